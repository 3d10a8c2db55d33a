"""Which runner a worker gets: payload-context questions are answered outside the sandbox unless a codec
or an external store would use the answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from infra.codec import EncryptionCodec, new_payload_key, parse_payload_keys
from infra.workflow_runner import ContextFreeRunner, contexts_matter, workflow_runner


class _ContextCodec(PayloadCodec, WithSerializationContext):
    """A codec whose bytes could depend on where a payload goes (e.g. a key per workflow)."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    def with_context(self, context: SerializationContext) -> _ContextCodec:
        return _ContextCodec()


def test_plain_payloads_take_the_context_free_runner() -> None:
    assert not contexts_matter(pydantic_data_converter)
    assert isinstance(workflow_runner(pydantic_data_converter), ContextFreeRunner)


def test_our_encryption_codec_takes_no_context() -> None:
    codec = EncryptionCodec(parse_payload_keys(new_payload_key("k1")))
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=codec)
    assert not contexts_matter(converter)
    assert isinstance(workflow_runner(converter), ContextFreeRunner)


def test_a_codec_that_takes_a_context_gets_the_sandbox_answers() -> None:
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=_ContextCodec())
    assert contexts_matter(converter)
    assert isinstance(workflow_runner(converter), SandboxedWorkflowRunner)
