"""docs/events.md describes exactly the events in the code, so the catalogue cannot drift.

The code is the source of truth: every event class nested in an aggregate of ``domain/``
must have a section ``### Aggregate.Event (vN)`` with its ``class_version`` and a table of
exactly its own fields and annotated types; every value type those fields use must be
described with its fields (or enum values); and nothing in the document may name an
event, field, type or use case that does not exist.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from eventsourcing.utils import get_topic

import domain
from domain.base import LedgerAggregate
from domain.cause import Provenance
from domain.personal_data import declared
from domain.values import ENUM_TYPES, VALUE_TYPES
from service.ledger.application import Ledger

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic", "meta")

# -- the code's side -------------------------------------------------------------------


def aggregates() -> dict[str, type[LedgerAggregate]]:
    """Every LedgerAggregate subclass defined in a module of the ``domain`` package."""
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: dict[str, type[LedgerAggregate]] = {}
    todo = list(LedgerAggregate.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("domain."):
            found[cls.__qualname__] = cls
    return dict(sorted(found.items()))


def _library_base(name: str, cls: type) -> bool:
    """The ``Event`` and ``Created`` bases the library puts on every aggregate: never recorded."""
    if name == "Event":
        return True
    own = {f.name for f in dataclasses.fields(cls)}
    return name == "Created" and own == {
        f.name for f in dataclasses.fields(LedgerAggregate.Created)
    }


def event_classes() -> dict[str, type[LedgerAggregate.Event]]:
    """``"Aggregate.Event"`` -> class, for every event nested in a domain aggregate."""
    events: dict[str, type[LedgerAggregate.Event]] = {}
    for agg_name, agg in aggregates().items():
        for name, value in vars(agg).items():
            if (
                isinstance(value, type)
                and issubclass(value, LedgerAggregate.Event)
                and not _library_base(name, value)
            ):
                events[f"{agg_name}.{name}"] = value
    return events


def type_name(annotation: object) -> str:
    """An annotation as written in the source, without module prefixes."""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)


def own_fields(cls: type) -> dict[str, str]:
    return {f.name: type_name(f.type) for f in dataclasses.fields(cls) if f.name not in ENVELOPE}


def envelope_fields() -> dict[str, str]:
    fields = {f.name: type_name(f.type) for f in dataclasses.fields(LedgerAggregate.Created)}
    fields |= {f"meta.{f.name}": type_name(f.type) for f in dataclasses.fields(Provenance)}
    return fields


VALUE_TYPES_BY_NAME: dict[str, type] = {t.__name__: t for t in (*VALUE_TYPES, *ENUM_TYPES)}


def value_rows(cls: type) -> dict[str, str]:
    """What a value type's table must list: its fields and types, or an enum's values."""
    if issubclass(cls, Enum):
        return {str(member.value): "" for member in cls}
    return {f.name: type_name(f.type) for f in dataclasses.fields(cls)}


def value_types_used(types: list[str]) -> set[str]:
    """The value types that annotations mention, and the ones those mention, and so on."""
    used: set[str] = set()
    todo = list(types)
    while todo:
        for word in re.findall(r"\w+", todo.pop()):
            cls = VALUE_TYPES_BY_NAME.get(word)
            if cls is not None and word not in used and cls is not Provenance:
                used.add(word)
                todo += value_rows(cls).values()
    return used


# -- the document's side ---------------------------------------------------------------

HEADING = re.compile(r"^### (?P<title>\S+) \((?P<kind>v\d+|value|enum)\)\s*$")
BULLET = re.compile(r"^- \*\*(?P<label>[^*]+):\*\*(?P<text>.*)$")
TOPIC = re.compile(r"^Stored topic: `(?P<module>[\w.]+):(?P<aggregate>\w+)\.<Event>`\s*$")


@dataclass
class Section:
    """A ``###`` section, or (kind "group") a ``##`` section's text before its first ``###``."""

    title: str
    kind: str
    line: int
    group: str
    rows: dict[str, str] = field(default_factory=dict)
    bullets: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"docs/events.md:{self.line} ({self.title})"


def _is_event(section: Section) -> bool:
    return re.fullmatch(r"v\d+", section.kind) is not None


def _cells(row: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", row.strip().strip("|"))
    return [cell.strip().strip("`").replace("\\|", "|") for cell in cells]


def parse(text: str) -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    bullet = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            group = line[3:].strip()
            current = Section(group, "group", number, group)
            sections.append(current)
        elif line.startswith("###"):
            match = HEADING.match(line)
            if match is None or current is None:
                raise AssertionError(
                    f"docs/events.md:{number}: heading {line!r} is not '### Aggregate.Event (vN)',"
                    " '### Type (value)' or '### Type (enum)' inside a '## ' section"
                )
            current = Section(match["title"], match["kind"], number, current.group)
            sections.append(current)
        elif current is None:
            continue
        elif match := BULLET.match(line):
            bullet = match["label"]
            current.bullets[bullet] = match["text"]
        elif line.startswith("  ") and bullet in current.bullets:
            current.bullets[bullet] += " " + line.strip()
        elif match := TOPIC.match(line):
            current.bullets["Stored topic"] = f"{match['module']}:{match['aggregate']}"
        elif line.startswith("|"):
            cells = _cells(line)
            header = cells[0] in ("field", "value") and "`" not in line.split("|")[1]
            if header or set(cells[0]) <= {"-", ":"}:
                continue
            if cells[0] in current.rows:
                current.problems.append(f"{current.where}: row '{cells[0]}' appears twice")
            current.rows[cells[0]] = cells[1] if len(cells) > 2 else ""
        if not line.startswith(("- ", "  ")):
            bullet = ""
    return sections


# -- the comparison --------------------------------------------------------------------


def _compare_rows(where: str, documented: dict[str, str], actual: dict[str, str]) -> list[str]:
    problems = []
    for name, kind in actual.items():
        if name not in documented:
            what = f"field '{name}' ({kind})" if kind else f"value '{name}'"
            problems.append(f"{where}: {what} is in the code but missing from the table")
        elif kind and documented[name] != kind:
            problems.append(
                f"{where}: field '{name}' has type '{kind}' in the code, "
                f"the table says '{documented[name]}'"
            )
    for name in documented:
        if name not in actual:
            problems.append(f"{where}: the table lists '{name}', which the code does not have")
    return problems


def _check_event(section: Section, cls: type[LedgerAggregate.Event]) -> list[str]:
    where = section.where
    problems = []
    version = int(section.kind[1:])
    if version != cls.class_version:
        problems.append(
            f"{where}: the heading says v{version}, the code has class_version {cls.class_version}"
        )
    aggregate = section.title.split(".")[0]
    if section.group != aggregate:
        problems.append(f"{where}: it sits under '## {section.group}', not '## {aggregate}'")
    fields = own_fields(cls)
    problems += _compare_rows(where, section.rows, fields)
    for label in ("Recorded by", "Effective time", "State"):
        if label not in section.bullets:
            problems.append(f"{where}: no '- **{label}:**' bullet")
    if "`Ledger." not in section.bullets.get("Recorded by", "`Ledger."):
        problems.append(f"{where}: 'Recorded by' names no `Ledger.` use case")
    for name in re.findall(r"`(\w+)`", section.bullets.get("Effective time", "")):
        if name not in fields:
            problems.append(f"{where}: the effective time '{name}' is not a field of the event")
    return problems + _check_personal_data(section, cls)


def _check_personal_data(section: Section, cls: type[LedgerAggregate.Event]) -> list[str]:
    """The 'Personal data' bullet names exactly the declared paths (subject ids, holders) and
    each declared subject kind; an event that declares none has no such bullet."""
    where = section.where
    bullet = section.bullets.get("Personal data")
    declarations = declared(cls)
    if not declarations:
        return [f"{where}: a 'Personal data' bullet, but the event declares none"] if bullet else []
    if bullet is None:
        return [f"{where}: the event declares personal data, but has no 'Personal data' bullet"]
    problems = []
    expected = {
        p for d in declarations for p in (*d.paths, d.subject_id, d.holder) if p is not None
    }
    documented = set(re.findall(r"`([\w.]+)`", bullet))
    for path in sorted(expected - documented):
        problems.append(f"{where}: personal field '{path}' is declared but not documented")
    for path in sorted(documented - expected):
        problems.append(f"{where}: the bullet names '{path}', which the event does not declare")
    for declaration in declarations:
        if not re.search(rf"(?<![\w-]){declaration.kind.value}(?![\w-])", bullet):
            problems.append(f"{where}: the subject kind '{declaration.kind.value}' is not named")
    return problems


def _check_values(sections: dict[str, Section], used: set[str]) -> list[str]:
    problems = []
    for name in sorted(used - set(sections)):
        problems.append(
            f"value type '{name}' is used by event fields but has no "
            f"'### {name} (value)' or '### {name} (enum)' section"
        )
    for name, section in sections.items():
        cls = VALUE_TYPES_BY_NAME.get(name)
        if cls is None or name not in used:
            problems.append(f"{section.where}: '{name}' is not a value type any event field uses")
            continue
        kind = "enum" if issubclass(cls, Enum) else "value"
        if section.kind != kind:
            problems.append(
                f"{section.where}: '{name}' is an {kind}, the heading says {section.kind}"
            )
        problems += _compare_rows(section.where, section.rows, value_rows(cls))
    return problems


def _check_topics(groups: dict[str, Section], events: dict[str, type]) -> list[str]:
    """Each aggregate's 'Stored topic:' line must match the topics its events are stored under."""
    problems = set()
    for name, cls in events.items():
        aggregate = name.split(".")[0]
        documented = groups[aggregate].bullets.get("Stored topic") if aggregate in groups else None
        if documented is None:
            problems.add(
                f"'## {aggregate}' has no 'Stored topic: `<module>:{aggregate}.<Event>`' line"
            )
        elif f"{documented.split(':')[0]}:{name}" != get_topic(cls):
            problems.add(
                f"{name} is stored under topic '{get_topic(cls)}', the doc says "
                f"'{documented.split(':')[0]}:{name}'"
            )
    return sorted(problems)


def _check_references(text: str) -> list[str]:
    """Every `Ledger.x` or `Aggregate.x` the document mentions must exist."""
    owners: dict[str, type] = {"Ledger": Ledger, **aggregates()}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for owner, attribute in re.findall(r"`(\w+)\.(\w+)`", line):
            if owner in owners and not hasattr(owners[owner], attribute):
                problems.append(f"docs/events.md:{number}: `{owner}.{attribute}` does not exist")
    return problems


def drift(text: str) -> list[str]:
    """Every way ``text`` disagrees with the code, each as one precise sentence."""
    sections = parse(text)
    events = event_classes()
    problems = [problem for section in sections for problem in section.problems]
    titles = [s.title for s in sections]
    problems += [
        f"'{title}' has {titles.count(title)} sections"
        for title in sorted(set(titles))
        if titles.count(title) > 1
    ]
    by_title = {s.title: s for s in sections if _is_event(s)}
    for name, cls in events.items():
        if name in by_title:
            problems += _check_event(by_title[name], cls)
        else:
            problems.append(
                f"{name} (class_version {cls.class_version}) is in the code "
                f"but docs/events.md has no '### {name} (v{cls.class_version})' section"
            )
    for title, section in by_title.items():
        if title not in events:
            problems.append(f"{section.where}: no event '{title}' exists in the code")

    groups = {s.title: s for s in sections if s.kind == "group"}
    envelope = groups.get("Envelope", Section("Envelope", "group", 0, "Envelope"))
    problems += _compare_rows("docs/events.md '## Envelope'", envelope.rows, envelope_fields())
    used = value_types_used([kind for cls in events.values() for kind in own_fields(cls).values()])
    problems += _check_values({s.title: s for s in sections if s.kind in ("value", "enum")}, used)
    problems += _check_topics(groups, events)
    problems += _check_references(text)
    return problems


# -- the tests -------------------------------------------------------------------------


def test_the_domain_has_events_to_document():
    events = event_classes()
    assert {"License.LicenseAdded", "Subscription.RenewalScheduled", "Invoice.InvoicePaid"} <= set(
        events
    )
    assert event_classes()["Account.UpgradeRequested"].class_version >= 2


def test_docs_events_md_matches_the_code():
    problems = drift(DOC.read_text())
    assert not problems, "docs/events.md has drifted from the code:\n  " + "\n  ".join(problems)


def test_the_check_reports_each_kind_of_drift():
    """Break a copy of the document in known ways: each break must be reported precisely."""
    text = DOC.read_text()
    name, cls = next((n, c) for n, c in event_classes().items() if own_fields(c))
    first_field, first_type = next(iter(own_fields(cls).items()))
    version = cls.class_version
    heading = f"### {name} (v{version})"
    section_start = text.index(heading)
    row_start = text.index(f"| `{first_field}` |", section_start)
    row = text[row_start : text.index("\n", row_start) + 1]

    def broken(old: str, new: str, start: int = 0) -> str:
        at = text.index(old, start)
        return text[:at] + new + text[at + len(old) :]

    cases = {
        "version": (
            broken(heading, f"### {name} (v{version + 1})"),
            f"the heading says v{version + 1}, the code has class_version {version}",
        ),
        "missing field": (
            broken(row, ""),
            f"field '{first_field}' ({first_type}) is in the code but missing from the table",
        ),
        "extra field": (
            broken(row, row + "| `no_such_field` | `str` | invented |\n"),
            "the table lists 'no_such_field', which the code does not have",
        ),
        "wrong type": (
            broken(f"| `{first_field}` | `{first_type}` |", f"| `{first_field}` | `NoSuchType` |"),
            f"field '{first_field}' has type '{first_type}' in the code, "
            "the table says 'NoSuchType'",
        ),
        "unknown event": (
            broken(heading, f"### {name}Renamed (v{version})"),
            f"no event '{name}Renamed' exists in the code",
        ),
        "missing event": (
            broken(heading, f"### {name}Renamed (v{version})"),
            f"{name} (class_version {version}) is in the code but docs/events.md has no",
        ),
        "undocumented personal field": (
            broken("`contact.phone`", "`contact.fax`"),
            "personal field 'contact.phone' is declared but not documented",
        ),
        "unknown use case": (
            broken("`Ledger.", "`Ledger.no_such_use_case` `Ledger."),
            "`Ledger.no_such_use_case` does not exist",
        ),
    }
    for case, (doctored, expected) in cases.items():
        assert doctored != text, case
        reported = drift(doctored)
        assert any(expected in problem for problem in reported), (case, expected, reported)
