"""Domain refusals. Each carries a stable code and a German/English message for the technician.

Messages are fixed texts: they never quote input values or personal data.
"""

from __future__ import annotations

from typing import ClassVar, Literal


class DomainError(Exception):
    """A command that the current state does not allow; nothing is emitted."""

    #: ``not_found``, ``forbidden`` or ``conflict``; the HTTP edge maps these to 404/403/409.
    kind: ClassVar[Literal["not_found", "forbidden", "conflict"]] = "conflict"
    code: ClassVar[str] = "conflict"
    message_de: ClassVar[str] = "Die Aktion ist im aktuellen Zustand nicht möglich."
    message_en: ClassVar[str] = "The action is not possible in the current state."

    def __init__(self) -> None:
        super().__init__(self.code)


class UnknownRequest(DomainError):
    kind = "not_found"
    code = "request_not_found"
    message_de = "Unbekannte Supportanfrage."
    message_en = "Unknown support request."


class RequestAlreadyStarted(DomainError):
    code = "request_already_started"
    message_de = "Für diese Supportanfrage wurde bereits eine Sitzung gestartet."
    message_en = "A session has already been started for this support request."


class RequestWithdrawn(DomainError):
    code = "request_withdrawn"
    message_de = "Die Supportanfrage wurde zurückgezogen und kann nicht gestartet werden."
    message_en = "The support request has been withdrawn and cannot be started."


class RequestErased(DomainError):
    code = "request_erased"
    message_de = ("Die Daten dieser Supportanfrage wurden bereits gelöscht; "
                  "sie kann nicht mehr gestartet werden.")
    message_en = "The data of this support request have been erased; it can no longer be started."


class UnknownSession(DomainError):
    kind = "not_found"
    code = "session_not_found"
    message_de = "Unbekannte Sitzung. Eine Sitzung muss zuerst gestartet werden."
    message_en = "Unknown session. A session has to be started first."


class SessionAlreadyStarted(DomainError):
    code = "session_already_started"
    message_de = "Diese Sitzung wurde bereits gestartet."
    message_en = "This session has already been started."


class SessionAlreadyEnded(DomainError):
    code = "session_ended"
    message_de = "Die Sitzung ist bereits beendet."
    message_en = "The session has already ended."


class AlreadyPromoted(DomainError):
    code = "already_promoted"
    message_de = "Der Wunsch, Stammkunde zu werden, wurde in dieser Sitzung bereits erfasst."
    message_en = "The wish to become a regular customer has already been recorded in this session."


class NotYourSession(DomainError):
    """Another technician acts on a session: only its technician may, or takes it over first."""

    kind = "forbidden"
    code = "session_of_another_technician"
    message_de = ("Diese Sitzung gehört einer anderen Technikerin oder einem anderen Techniker. "
                  "Sie können sie nur nach einer ausdrücklichen Übernahme bearbeiten.")
    message_en = ("This session belongs to another technician. You can act on it only after "
                  "an explicit takeover.")


class AlreadyYourSession(DomainError):
    code = "session_already_yours"
    message_de = "Diese Sitzung gehört bereits dieser Technikerin oder diesem Techniker."
    message_en = "This session already belongs to this technician."
