"""The events in the OpenAPI document's `webhooks` section (OpenAPI 3.1): one entry per event type, each
the envelope with that type's `data`, so receivers can generate their models from our schema."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any, Literal, cast

from fastapi import FastAPI
from pydantic import BaseModel, create_model

from models.events import DATA_MODELS, Event, EventData, EventType

_DESCRIPTION = (
    "Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), delivered at "
    "least once and in `sequence` order per subscription; deduplicate by `id`."
)


def _envelope(event_type: EventType, data_model: type[EventData]) -> type[BaseModel]:
    name = "".join(part.title() for part in event_type.value.replace(".", "_").split("_")) + "Event"
    literal = cast("Any", Literal)[event_type.value]
    fields: dict[str, Any] = {
        name: (annotation, default)
        for name, annotation, default in (
            ("type", literal, ...),
            ("data", data_model, ...),
            ("created_at", datetime, ...),
        )
    }
    return create_model(name, __base__=Event, __doc__=data_model.__doc__ or event_type.value, **fields)


def _receiver(event_type: EventType, envelope: type[BaseModel]) -> Any:
    async def receive(body: BaseModel) -> None:
        """What your endpoint receives."""

    receive.__name__ = event_type.value.replace(".", "_")
    receive.__doc__ = f"`{event_type.value}`. {_DESCRIPTION}"
    # FastAPI reads the body's model from the signature; the model is built at run time.
    receive.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=envelope)],
        return_annotation=None,
    )
    return receive


def document_webhooks(app: FastAPI) -> None:
    for event_type, data_model in DATA_MODELS.items():
        envelope = _envelope(event_type, data_model)
        app.webhooks.post(event_type.value, tags=["events"])(_receiver(event_type, envelope))
