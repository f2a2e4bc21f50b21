"""`/api/v1/appointments`: book, list, get, reschedule or edit, confirm, cancel; and each
appointment's notifications (service key required)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response, status

from avisa.domain.appointments import (
    AppointmentFilter,
    appointment_public,
    cancel_appointment,
    confirm_appointment,
    create_appointment,
    get_appointment,
    list_appointments,
    update_appointment,
)
from avisa.domain.model import AppointmentRecord, AppointmentStatus
from avisa.domain.notifications import list_notifications, notification_public
from avisa.domain.schemas import (
    MAX_ID,
    AppointmentCreate,
    AppointmentPublic,
    AppointmentUpdate,
    NotificationPublic,
    Page,
    ReplyPublic,
)
from avisa.domain.validation import InvalidFieldError
from avisa.messaging.receipts import delivery_views
from avisa.messaging.views import appointment_replies
from avisa.services import Services
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/v1/appointments", tags=["appointments"])


def _shown(services: Services, records: list[AppointmentRecord]) -> list[AppointmentPublic]:
    """The API shape plus what replies tell: how it was confirmed, the last reply."""
    with services.engine.connect() as conn:
        replies = appointment_replies(conn, [r.id for r in records])
    shown = []
    for record in records:
        found = replies.get(record.id)
        via = found.confirmed_via if found else None
        last = found.last_reply if found else None
        shown.append(
            appointment_public(record).model_copy(
                update={
                    "confirmed_via": via or ("api" if record.confirmed_at else None),
                    "last_reply": ReplyPublic(**vars(last)) if last else None,
                }
            )
        )
    return shown


Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Conflict: dict[int | str, dict[str, Any]] = {
    409: {"description": "the appointment's status does not allow this"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "an appointment with this external_id was updated"}},
)
def create(
    body: AppointmentCreate, response: Response, services: ServicesDep, _auth: ServiceRoleDep
) -> AppointmentPublic:
    """Book an appointment (with `client_id` or an inline `client`) and plan its reminders.

    An `external_id` already known updates that appointment and answers 200 instead of 201.
    """
    with services.engine.begin() as conn:
        record, created = create_appointment(conn, body, services.settings, services.clock.now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return _shown(services, [record])[0]


@router.get("")
def list_(
    services: ServicesDep,
    _auth: ServiceRoleDep,
    status_: Annotated[list[AppointmentStatus] | None, Query(alias="status")] = None,
    client_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_before: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AppointmentPublic]:
    """Appointments by start time; filter by status (repeatable), client and `from`/`to`."""
    for name, value in (("from", starts_from), ("to", starts_before)):
        if value is not None and value.tzinfo is None:
            raise InvalidFieldError(name, "needs an offset, like 2026-03-02T09:00:00+01:00")
    where = AppointmentFilter(
        status=tuple(status_ or ()),
        client_id=client_id,
        starts_from=starts_from,
        starts_before=starts_before,
    )
    with services.engine.connect() as conn:
        records, next_cursor = list_appointments(conn, where, limit=limit, cursor=cursor)
    return Page[AppointmentPublic](items=_shown(services, records), next_cursor=next_cursor)


@router.get("/{appointment_id}")
def get(appointment_id: PathId, services: ServicesDep, _auth: ServiceRoleDep) -> AppointmentPublic:
    """One appointment, its times in its own zone; 404 if it does not exist."""
    with services.engine.connect() as conn:
        record = get_appointment(conn, appointment_id)
    return _shown(services, [record])[0]


@router.patch("/{appointment_id}", responses=Conflict)
def patch(
    appointment_id: PathId, body: AppointmentUpdate, services: ServicesDep, _auth: ServiceRoleDep
) -> AppointmentPublic:
    """Edit or reschedule; pending reminders of the old time are cancelled, new ones planned."""
    with services.engine.begin() as conn:
        record = update_appointment(
            conn, appointment_id, body, services.settings, services.clock.now()
        )
    return _shown(services, [record])[0]


@router.post("/{appointment_id}/confirm", responses=Conflict)
def confirm(
    appointment_id: PathId, services: ServicesDep, _auth: ServiceRoleDep
) -> AppointmentPublic:
    """scheduled -> confirmed; confirming twice is harmless; 409 once closed."""
    with services.engine.begin() as conn:
        record = confirm_appointment(conn, appointment_id, services.settings, services.clock.now())
    return _shown(services, [record])[0]


@router.post("/{appointment_id}/cancel", responses=Conflict)
def cancel(
    appointment_id: PathId, services: ServicesDep, _auth: ServiceRoleDep
) -> AppointmentPublic:
    """Cancel and cancel its pending reminders; cancelling twice is harmless; 409 once
    completed or no-show."""
    with services.engine.begin() as conn:
        record = cancel_appointment(conn, appointment_id, services.settings, services.clock.now())
    return _shown(services, [record])[0]


@router.get("/{appointment_id}/notifications")
def notifications(
    appointment_id: PathId,
    services: ServicesDep,
    _auth: ServiceRoleDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationPublic]:
    """The appointment's reminders: planned, sent, skipped or cancelled, with the reason."""
    with services.engine.connect() as conn:
        appointment = get_appointment(conn, appointment_id)
        records, next_cursor = list_notifications(conn, appointment_id, limit=limit, cursor=cursor)
        views = delivery_views(conn, [r.id for r in records])
    items = []
    tz = ZoneInfo(appointment.timezone)
    for r in records:
        view = views.get(r.id)
        delivered = r.delivered_at or (view.delivered_at if view else None)
        items.append(
            notification_public(r, appointment.timezone).model_copy(
                update={
                    "delivery_status": view.state.value if view and view.state else None,
                    "delivered_at": delivered.astimezone(tz) if delivered else None,
                    "read_at": view.read_at.astimezone(tz) if view and view.read_at else None,
                }
            )
        )
    return Page[NotificationPublic](items=items, next_cursor=next_cursor)
