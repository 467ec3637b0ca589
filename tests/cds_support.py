"""Shared builders of the CDS Hooks tests (tests/test_cds_*.py, benchmarks).

* Keys and tokens: :class:`Signer` (RSA, EC or PS keys made with ``cryptography``, their public
  JWK) and :func:`make_token` (a CDS client JWT signed with PyJWT, any claim changed or left out).
* A fake EHR: :class:`FakeEhr`, an ``httpx.MockTransport`` serving a FHIR server
  (``https://ehr.example/fhir``) and the EHR's JWK Set — no network.
* mCODE-shaped resources of one patient (:func:`patient_resources`) and CDS Hooks requests in
  the shape the CDS Hooks sandbox sends (:func:`sandbox_request`).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from netnav.web.cds_config import CdsIssuer, CdsSettings
from netnav.web.config import ServerConfig
from tests.web_support import WebApp, make_web

BASE: Final = "http://testserver"
SERVICE_URL: Final = f"{BASE}/cds-services/netnav-plan"
FEEDBACK_URL: Final = f"{SERVICE_URL}/feedback"
EHR_ISS: Final = "https://ehr.example"
EHR_JKU: Final = "https://ehr.example/.well-known/jwks.json"
FHIR_BASE: Final = "https://ehr.example/fhir"
PATIENT_ID: Final = "pt-ileal-net-01"
ACCESS_TOKEN: Final = "ehr-access-token-7f3a9c"
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM: Final = "http://unitsofmeasure.org"
CASE_FIELD: Final = "https://fhir.netnav.org/CodeSystem/case-field"
CASE_VALUE: Final = "https://fhir.netnav.org/CodeSystem/case-value"
THERAPY: Final = "https://fhir.netnav.org/CodeSystem/therapy"
MCODE: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition"


# --- keys and tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """A private key, its ``kid`` and algorithm, and the public JWK."""

    kid: str
    alg: str
    private_key: Any = field(repr=False)

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if self.alg.startswith("ES"):
            data: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}


def rsa_signer(kid: str = "ehr-rsa-1", alg: str = "RS384") -> Signer:
    return Signer(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_signer(kid: str = "ehr-ec-1", alg: str = "ES384") -> Signer:
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return Signer(kid, alg, ec.generate_private_key(curve))


_DROP: Final = object()


def make_token(
    signer: Signer,
    *,
    aud: object = SERVICE_URL,
    iss: object = EHR_ISS,
    exp: object = None,
    iat: object = None,
    jti: object = None,
    sub: object = "netnav-test-client",
    headers: Mapping[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    key: Any = None,
    alg: str | None = None,
) -> str:
    """A CDS client JWT; ``drop`` leaves claims out; ``key``/``alg`` sign otherwise."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": sub,
        "aud": aud,
        "exp": now + 300 if exp is None else exp,
        "iat": now if iat is None else iat,
        "jti": str(uuid.uuid4()) if jti is None else jti,
    }
    for name in drop:
        claims.pop(name, None)
    header = {"kid": signer.kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(
        claims,
        key if key is not None else signer.private_key,
        algorithm=alg or signer.alg,
        headers=header,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- a fake EHR (FHIR server and JWK Set) -------------------------------------------------


@dataclass
class FakeEhr:
    """The EHR's HTTP side: ``GET {FHIR_BASE}/...`` and its JWK Set at :data:`EHR_JKU`.

    ``resources`` are served by type (searches filter nothing: one patient); ``page_size``
    splits searchsets into pages linked by ``next``; ``fail`` makes the FHIR server answer 500
    (or raise a connection error with ``"connect"``). Every request is kept in ``requests``.
    """

    resources: list[dict[str, Any]]
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    page_size: int = 50
    fail: str | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url == EHR_JKU:
            return httpx.Response(200, json=self.jwks)
        if not url.startswith(FHIR_BASE + "/"):
            return httpx.Response(404)
        if self.fail == "connect":
            raise httpx.ConnectError("refused", request=request)
        if self.fail:
            return httpx.Response(500, json={"resourceType": "OperationOutcome", "issue": []})
        path = request.url.path.removeprefix("/fhir/")
        if "/" in path:  # a read: Patient/<id>, Medication/<id>
            kind, wanted = path.split("/", 1)
            for r in self.resources:
                if r["resourceType"] == kind and r["id"] == wanted:
                    return _fhir(r)
            return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})
        matches = [r for r in self.resources if r["resourceType"] == path]
        page = int(request.url.params.get("_page", "0"))
        chunk = matches[page * self.page_size : (page + 1) * self.page_size]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": [{"relation": "self", "url": url}],
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in chunk],
        }
        if request.url.params.get("_include", "").endswith(":medication"):
            bundle["entry"] += [
                {"resource": m, "search": {"mode": "include"}}
                for m in _medications(self.resources, chunk)
            ]
        if (page + 1) * self.page_size < len(matches):
            nxt = request.url.copy_set_param("_page", str(page + 1))
            bundle["link"].append({"relation": "next", "url": str(nxt)})
        return _fhir(bundle)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def _medications(
    resources: list[dict[str, Any]], users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The Medication resources ``users`` reference (``medicationReference``)."""
    wanted = {
        u.get("medicationReference", {}).get("reference")
        for u in users
        if isinstance(u.get("medicationReference"), dict)
    }
    return [
        r
        for r in resources
        if r["resourceType"] == "Medication" and f"Medication/{r['id']}" in wanted
    ]


def _fhir(body: Mapping[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, content=json.dumps(body).encode(), headers={"Content-Type": "application/fhir+json"}
    )


def settings_for(ehr: FakeEhr | None = None, *signers: Signer, **changes: Any) -> CdsSettings:
    """Settings trusting :data:`EHR_ISS` with the signers' keys inline and :data:`EHR_JKU`."""
    issuer = CdsIssuer(iss=EHR_ISS, jku=(EHR_JKU,), jwks={"keys": [s.jwk for s in signers]})
    values: dict[str, Any] = {
        "issuers": (issuer,),
        "transport": ehr.transport if ehr is not None else None,
        **changes,
    }
    return CdsSettings(**values)


@contextlib.contextmanager
def cds_web(database_url: str, settings: CdsSettings) -> Iterator[WebApp]:
    """The app with these CDS settings, on ``database_url``."""
    config = ServerConfig(database_url=database_url, cds=settings)
    with make_web(database_url, config=config) as web:
        yield web


# --- the patient's record (mCODE-shaped) -------------------------------------------------


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(*codings: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": list(codings)}
    if text:
        out["text"] = text
    return out


def patient_resources(patient_id: str = PATIENT_ID) -> list[dict[str, Any]]:
    """A 64-year-old woman with a well-differentiated ileal NET (ICD-10-CM C7A.012, ICD-O-3
    8240/3), liver metastases (C7B.02), Ki-67 4 %, chromogranin A 2.5 × ULN, ECOG 0, SSTR-PET
    positive, ileal resection in 2025 and lanreotide ongoing."""
    subject = {"reference": f"Patient/{patient_id}"}
    return [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "meta": {"profile": [f"{MCODE}/mcode-cancer-patient"]},
            "gender": "female",
            "birthDate": "1961-05-14",
        },
        {
            "resourceType": "Condition",
            "id": "cond-primary",
            "meta": {"profile": [f"{MCODE}/mcode-primary-cancer-condition"]},
            "extension": [
                {
                    "url": f"{MCODE}/mcode-histology-morphology-behavior",
                    "valueCodeableConcept": _concept(
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/icd-o-3",
                            "8240/3",
                            "Neuroendocrine tumor, NOS",
                        )
                    ),
                }
            ],
            "clinicalStatus": _concept(
                _coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
            ),
            "verificationStatus": _concept(
                _coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")
            ),
            "category": [
                _concept(
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "problem-list-item",
                    )
                )
            ],
            "code": _concept(
                _coding(ICD10CM, "C7A.012", "Malignant carcinoid tumor of the ileum"),
                text="Well-differentiated NET of the ileum",
            ),
            "bodySite": [_concept(_coding(SNOMED, "34516001", "Ileal structure"))],
            "subject": subject,
            "onsetDateTime": "2025-02-10",
            "recordedDate": "2025-02-18",
        },
        {
            "resourceType": "Condition",
            "id": "cond-liver-mets",
            "meta": {"profile": [f"{MCODE}/mcode-secondary-cancer-condition"]},
            "clinicalStatus": _concept(
                _coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
            ),
            "code": _concept(_coding(ICD10CM, "C7B.02", "Secondary carcinoid tumors of liver")),
            "bodySite": [_concept(_coding(SNOMED, "10200004", "Liver structure"))],
            "subject": subject,
            "onsetDateTime": "2025-02-10",
        },
        {
            "resourceType": "Observation",
            "id": "obs-ki67",
            "status": "final",
            "category": [
                _concept(
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"
                    )
                )
            ],
            "code": _concept(
                _coding(LOINC, "29593-1", "Ki-67 [Presence] in Tissue by Immune stain"),
                _coding(CASE_FIELD, "tumor.ki67_percent"),
            ),
            "subject": subject,
            "effectiveDateTime": "2025-02-18",
            "valueQuantity": {"value": 4, "unit": "%", "system": UCUM, "code": "%"},
        },
        {
            "resourceType": "Observation",
            "id": "obs-cga",
            "meta": {"profile": [f"{MCODE}/mcode-tumor-marker-test"]},
            "status": "final",
            "code": _concept(
                _coding(LOINC, "9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma")
            ),
            "subject": subject,
            "effectiveDateTime": "2025-03-01",
            "valueQuantity": {"value": 250, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"},
            "referenceRange": [
                {"high": {"value": 100, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"}}
            ],
        },
        {
            "resourceType": "Observation",
            "id": "obs-ecog",
            "meta": {"profile": [f"{MCODE}/mcode-ecog-performance-status"]},
            "status": "final",
            "code": _concept(_coding(LOINC, "89247-1", "ECOG Performance Status score")),
            "subject": subject,
            "effectiveDateTime": "2025-03-01",
            "valueInteger": 0,
        },
        {
            "resourceType": "Observation",
            "id": "obs-sstr-pet",
            "status": "final",
            "code": _concept(_coding(CASE_FIELD, "tumor.sstr_imaging"), text="Ga-68 DOTATATE PET"),
            "subject": subject,
            "effectiveDateTime": "2025-02-25",
            "component": [
                {
                    "code": _concept(_coding(CASE_FIELD, "tumor.sstr_imaging.modality")),
                    "valueCodeableConcept": _concept(_coding(CASE_VALUE, "ga68_dotatate_pet")),
                },
                {
                    "code": _concept(_coding(CASE_FIELD, "tumor.sstr_imaging.krenning_min")),
                    "valueInteger": 3,
                },
                {
                    "code": _concept(_coding(CASE_FIELD, "tumor.sstr_imaging.krenning_max")),
                    "valueInteger": 4,
                },
                {
                    "code": _concept(
                        _coding(CASE_FIELD, "tumor.sstr_imaging.all_lesions_positive")
                    ),
                    "valueBoolean": True,
                },
            ],
        },
        {
            "resourceType": "Observation",
            "id": "obs-glucose",
            "status": "final",
            "code": _concept(_coding(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma")),
            "subject": subject,
            "effectiveDateTime": "2025-03-01",
            "valueQuantity": {"value": 95, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "medreq-lanreotide",
            "meta": {"profile": [f"{MCODE}/mcode-cancer-related-medication-request"]},
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _concept(
                _coding(THERAPY, "lanreotide", "Lanreotide"),
                text="lanreotide 120 mg deep s.c. every 28 days",
            ),
            "subject": subject,
            "authoredOn": "2025-04-02",
        },
        {
            "resourceType": "Procedure",
            "id": "proc-ileal-resection",
            "meta": {"profile": [f"{MCODE}/mcode-cancer-related-surgical-procedure"]},
            "status": "completed",
            "code": _concept(
                _coding(THERAPY, "surgical_resection", "Surgical resection"),
                _coding(SNOMED, "82619000", "Resection of ileum"),
            ),
            "subject": subject,
            "performedDateTime": "2025-03-12",
        },
    ]


def searchset(
    resources: list[dict[str, Any]], included: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A searchset of ``resources`` (``match``) and ``included`` (``include``)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]
        + [{"resource": r, "search": {"mode": "include"}} for r in included or []],
    }


def prefetch_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The prefetch a CDS client would send for these resources (every key; the medication
    searches with the Medications they reference, as ``_include`` asks)."""

    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["resourceType"] == kind]

    def meds(kind: str) -> dict[str, Any]:
        return searchset(of(kind), _medications(resources, of(kind)))

    patient = of("Patient")
    return {
        "patient": patient[0] if patient else None,
        "conditions": searchset(of("Condition")),
        "observations": searchset(of("Observation")),
        "medicationRequests": meds("MedicationRequest"),
        "medicationAdministrations": meds("MedicationAdministration"),
        "medicationStatements": meds("MedicationStatement"),
        "procedures": searchset(of("Procedure")),
    }


def sandbox_request(
    prefetch: Mapping[str, Any] | None = None,
    *,
    patient_id: str = PATIENT_ID,
    fhir_server: str | None = FHIR_BASE,
    hook_instance: str | None = None,
    authorization: bool = True,
) -> dict[str, Any]:
    """A ``patient-view`` request in the CDS Hooks sandbox's shape (sandbox.cds-hooks.org):
    ``hookInstance`` a UUID, ``fhirServer``, ``fhirAuthorization`` (token, type, expiry,
    scope, subject), ``context.userId`` a Practitioner reference, ``prefetch``."""
    body: dict[str, Any] = {
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": patient_id},
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        if authorization:
            body["fhirAuthorization"] = {
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/Patient.read patient/Condition.read patient/Observation.read "
                "patient/MedicationRequest.read patient/MedicationAdministration.read "
                "patient/MedicationStatement.read patient/Medication.read "
                "patient/Procedure.read",
                "subject": "netnav-plan",
            }
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    return body


Post = Callable[..., httpx.Response]
