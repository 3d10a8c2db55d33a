"""The sandboxed workflow runner our workers and replayers use.

Around every payload sequence of every activation and completion, the SDK asks the workflow instance which
serialization context and which external-store context the payloads belong to, three times per direction.
In the sandbox each of those questions compiles and executes a code string under the sandbox's importer,
a large share of the worker's CPU (docs/benchmarks.md). The answer only reaches a payload codec or an
external payload store, and a codec only uses it if it takes a context (`WithSerializationContext`): our
encryption codec does not. Where neither uses it, every answer gives the same bytes, so `ContextFreeRunner`
answers without entering the sandbox; the workflow code itself still runs sandboxed."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WithSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import Info, _Definition

# Our message modules (and the pure libraries they use) are deterministic; pass them through the
# sandbox instead of re-importing them for every workflow run.
PASSTHROUGH_MODULES = (
    "models",
    "workflows.constants",
    "workflows.device_group",
    "workflows.subscription_messages",
    "workflows.visibility",
    "workflows.search_attributes",
    "vouchers.lifecycle",
    "dateutil",
)


def sandboxed_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def contexts_matter(converter: DataConverter) -> bool:
    """Whether payload bytes depend on their serialization or store context under this converter."""
    return (
        isinstance(converter.payload_codec, WithSerializationContext)
        or converter.external_storage is not None
    )


def workflow_runner(converter: DataConverter) -> WorkflowRunner:
    """The runner for workers and replayers whose client converts payloads with `converter`."""
    sandboxed = sandboxed_runner()
    return sandboxed if contexts_matter(converter) else ContextFreeRunner(sandboxed)


class ContextFreeRunner(WorkflowRunner):
    """Runs workflows with `inner`, answering payload-context questions outside the sandbox.

    Only for a data converter whose codec (if any) takes no context and with no external storage (see
    `workflow_runner`)."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        # None selects the worker's own converter: with no codec that takes a context, the context it would
        # pick changes nothing.
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return StorageDriverStoreContext(target=None)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()
