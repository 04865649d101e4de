"""The demo: fourteen months of history, and tokens and sign-in links to try it."""
