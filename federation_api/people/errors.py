"""Why a person record could not be saved."""

from __future__ import annotations

from federation_api.errors import EdgeError


class PeopleError(EdgeError):
    """The root of the person records' errors."""


class InvalidPerson(PeopleError):
    """A person record's fields did not parse; `errors` names each field and the rule."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors))


class PersonExists(PeopleError):
    """Another record already has this professional id."""

    def __init__(self, person_id: str) -> None:
        self.person_id = person_id
        super().__init__(f"a person record with the id {person_id} exists already")


class NoSuchPerson(PeopleError):
    """No record has this professional id."""

    def __init__(self, person_id: str) -> None:
        self.person_id = person_id
        super().__init__(f"no person record has the id {person_id}")
