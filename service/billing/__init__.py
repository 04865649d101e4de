"""The billing run: what the calendar asks of every contract, done on the application clock."""
