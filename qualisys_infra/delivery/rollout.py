"""Follow an Argo Rollouts ``Rollout`` until it is healthy, aborted (rolled back), failed or timed out.

The decision is the one ``kubectl argo rollouts status`` makes (``GetRolloutPhase`` in Argo
Rollouts' ``utils/rollout/rolloututil.go``): the phase and message the controller writes to
``status.phase``/``status.message`` count only once ``status.observedGeneration`` equals
``metadata.generation`` and the rollout is not being unpaused; a controller that writes no phase
(before v1.0) gets the same calculation done here (``CalculateRolloutPhase``). On top of it:

- ``expected_image``: the rollout's pod template must run that image (or tag) before anything else
  counts, so the healthy rollout of the *previous* release is never taken for the new one;
- a Healthy phase is believed only when the hashes agree (canary: ``status.stableRS`` equals
  ``status.currentPodHash``; blue-green: ``status.blueGreen.activeSelector`` does);
- ``Paused`` at a canary ``pause`` step with a duration is progress (the controller resumes it);
  any other pause (``pause: {}``, a blue-green rollout without auto-promotion, an inconclusive
  analysis, ``spec.paused``) waits for a person, and a timeout says how to promote;
- ``status.abort`` or a ``Degraded`` phase from ``RolloutAborted`` is ABORTED (traffic is back on
  the stable revision), with the failed analysis runs' messages; any other ``Degraded`` (say
  ``ProgressDeadlineExceeded``) is FAILED.

Progress is one line per change of what is shown (phase, step, weight, ready pods, message, pods
that cannot start), not one per poll. After the first successful read, network errors, 429 and
5xx answers are retried until the deadline; anything else raises :class:`~.kube.KubeError`.

:func:`undo` puts a rollout back on an earlier revision, as ``kubectl argo rollouts undo`` does
(``RunUndoRollout`` in ``pkg/kubectl-argo-rollouts/cmd/undo/undo.go``): the pod template of the
rollout's own ReplicaSet of that revision, without its pod-template-hash label, replaces
``spec.template`` in one JSON patch, which first tests that ``metadata.generation`` is still the
one read (nobody released in between). The rollout's ``rollbackWindow`` lets Argo go back to a
recent revision at once, without the canary steps.
"""

from __future__ import annotations

import copy
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.core.progress import Progress, silent
from qualisys_infra.delivery.kube import KubeApi, KubeError, PodRef

DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_INTERVAL_SECONDS = 5.0

# Waiting reasons of a container that will not become ready without a change (a new image, a fixed
# secret or config): named in progress and in the result's message.
POD_PROBLEM_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
_ABORTED_REASON = "RolloutAborted"  # conditions.RolloutAbortedReason
_TIMED_OUT_REASON = "ProgressDeadlineExceeded"  # conditions.TimedOutReason
_INVALID_SPEC = "InvalidSpec"
_CANARY_PAUSE_STEP = "CanaryPauseStep"  # v1alpha1.PauseReasonCanaryPauseStep
_FAILED_ANALYSIS = frozenset({"Failed", "Error", "Inconclusive"})
REVISION_ANNOTATION = "rollout.argoproj.io/revision"  # on the rollout and on each of its ReplicaSets
POD_HASH_LABEL = "rollouts-pod-template-hash"  # v1alpha1.DefaultRolloutUniqueLabelKey


class Outcome(enum.Enum):
    HEALTHY = "healthy"
    ABORTED = "aborted"
    FAILED = "failed"
    TIMED_OUT = "timed out"


class Strategy(enum.Enum):
    CANARY = "canary"
    BLUE_GREEN = "blueGreen"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CanaryStep:
    """One step of ``spec.strategy.canary.steps``: its kind and, when it has one, weight or pause."""

    kind: str  # setWeight, pause, analysis, experiment, setCanaryScale, ...
    weight: int | None = None  # setWeight
    duration: str | None = None  # pause with a duration ("30s", "1h", "60"); None for pause: {}

    @property
    def indefinite_pause(self) -> bool:
        return self.kind == "pause" and self.duration is None


@dataclass(frozen=True, slots=True)
class AnalysisRunStatus:
    """An analysis run the rollout points at (``status.canary.*AnalysisRunStatus``, blue-green ones)."""

    name: str
    status: str  # Pending, Running, Successful, Failed, Error, Inconclusive
    message: str

    def __str__(self) -> str:
        return f"analysis run {self.name} {self.status}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True, slots=True)
class PodInfo:
    """One pod selected by the rollout: whether it is ready, and why it cannot start when it cannot."""

    name: str
    ready: bool
    problems: tuple[str, ...]  # waiting reasons from POD_PROBLEM_REASONS, one per container at most

    @classmethod
    def from_json(cls, pod: Mapping[str, Any]) -> PodInfo:
        status = _obj(pod, "status")
        ready = any(_str(c, "type") == "Ready" and _str(c, "status") == "True" for c in _objs(status, "conditions"))
        problems: list[str] = []
        for container in (*_objs(status, "initContainerStatuses"), *_objs(status, "containerStatuses")):
            reason = _str(_obj(_obj(container, "state"), "waiting"), "reason")
            if reason in POD_PROBLEM_REASONS and reason not in problems:
                problems.append(reason)
        return cls(name=_str(_obj(pod, "metadata"), "name"), ready=ready, problems=tuple(problems))


@dataclass(frozen=True, slots=True)
class RolloutSnapshot:
    """The fields of one read of a Rollout that the decision and the progress lines use."""

    name: str
    namespace: str
    generation: int
    observed_generation: str  # a number as a string since v0.10; a hash before
    strategy: Strategy
    steps: tuple[CanaryStep, ...]
    traffic_routing: bool
    post_promotion_analysis: bool
    preview_service: bool
    replicas: int  # spec.replicas (default 1)
    match_labels: Mapping[str, str]
    images: tuple[str, ...]
    spec_paused: bool
    phase: str
    message: str
    abort: bool
    pause_reasons: tuple[str, ...]
    controller_pause: bool
    current_pod_hash: str
    stable_rs: str
    step_index: int | None
    canary_weight: int | None  # status.canary.weights.canary.weight (traffic routing only)
    active_selector: str
    preview_selector: str
    status_replicas: int
    updated_replicas: int
    ready_replicas: int
    available_replicas: int
    conditions: tuple[tuple[str, str, str], ...]  # (type, reason, message)
    analysis_runs: tuple[AnalysisRunStatus, ...]

    @classmethod
    def from_json(cls, rollout: Mapping[str, Any]) -> RolloutSnapshot:
        metadata = _obj(rollout, "metadata")
        spec = _obj(rollout, "spec")
        status = _obj(rollout, "status")
        strategy_spec = _obj(spec, "strategy")
        canary_spec = strategy_spec.get("canary")
        blue_green_spec = strategy_spec.get("blueGreen")
        if isinstance(canary_spec, dict):
            strategy = Strategy.CANARY
        elif isinstance(blue_green_spec, dict):
            strategy = Strategy.BLUE_GREEN
        else:
            strategy = Strategy.UNKNOWN
        canary = canary_spec if isinstance(canary_spec, dict) else {}
        blue_green = blue_green_spec if isinstance(blue_green_spec, dict) else {}
        canary_status = _obj(status, "canary")
        blue_green_status = _obj(status, "blueGreen")
        runs = [
            canary_status.get("currentStepAnalysisRunStatus"),
            canary_status.get("currentBackgroundAnalysisRunStatus"),
            blue_green_status.get("prePromotionAnalysisRunStatus"),
            blue_green_status.get("postPromotionAnalysisRunStatus"),
        ]
        pod_spec = _obj(_obj(spec, "template"), "spec")
        replicas = _int(spec, "replicas")
        step_index = status.get("currentStepIndex")
        weights = canary_status.get("weights")
        canary_weight = _obj(weights, "canary").get("weight") if isinstance(weights, dict) else None
        return cls(
            name=_str(metadata, "name"),
            namespace=_str(metadata, "namespace"),
            generation=_int(metadata, "generation") or 0,
            observed_generation=str(status.get("observedGeneration") or ""),
            strategy=strategy,
            steps=tuple(_step(s) for s in _objs(canary, "steps")),
            traffic_routing=isinstance(canary.get("trafficRouting"), dict),
            post_promotion_analysis=isinstance(blue_green.get("postPromotionAnalysis"), dict),
            preview_service=bool(_str(blue_green, "previewService")),
            replicas=1 if replicas is None else replicas,
            match_labels={str(k): str(v) for k, v in _obj(_obj(spec, "selector"), "matchLabels").items()},
            images=tuple(_str(c, "image") for c in _objs(pod_spec, "containers")),
            spec_paused=spec.get("paused") is True,
            phase=_str(status, "phase"),
            message=_str(status, "message"),
            abort=status.get("abort") is True,
            pause_reasons=tuple(_str(p, "reason") for p in _objs(status, "pauseConditions")),
            controller_pause=status.get("controllerPause") is True,
            current_pod_hash=_str(status, "currentPodHash"),
            stable_rs=_str(status, "stableRS") or _str(canary_status, "stableRS"),
            step_index=step_index if isinstance(step_index, int) and not isinstance(step_index, bool) else None,
            canary_weight=canary_weight if isinstance(canary_weight, int) else None,
            active_selector=_str(blue_green_status, "activeSelector"),
            preview_selector=_str(blue_green_status, "previewSelector"),
            status_replicas=_int(status, "replicas") or 0,
            updated_replicas=_int(status, "updatedReplicas") or 0,
            ready_replicas=_int(status, "readyReplicas") or 0,
            available_replicas=_int(status, "availableReplicas") or 0,
            conditions=tuple(
                (_str(c, "type"), _str(c, "reason"), _str(c, "message")) for c in _objs(status, "conditions")
            ),
            analysis_runs=tuple(
                AnalysisRunStatus(name=_str(r, "name"), status=_str(r, "status"), message=_str(r, "message"))
                for r in runs
                if isinstance(r, dict)
            ),
        )

    @property
    def pods(self) -> PodRef:
        return PodRef(namespace=self.namespace, match_labels=self.match_labels)

    @property
    def current_step(self) -> CanaryStep | None:
        """The canary step being executed; None when there are none or all are done."""
        index = self.step_index or 0
        return self.steps[index] if self.strategy is Strategy.CANARY and index < len(self.steps) else None

    @property
    def step_label(self) -> str:
        """``i/n`` as ``kubectl argo rollouts`` shows it (steps done / steps), or ``""``."""
        if self.strategy is not Strategy.CANARY or not self.steps or self.step_index is None:
            return ""
        return f"{self.step_index}/{len(self.steps)}"

    @property
    def weight(self) -> int | None:
        """The canary's traffic weight in percent (None for blue-green).

        The weight set on the traffic router when there is one, else the ``setWeight`` of the
        current step or the last one before it (``GetCurrentSetWeight``): 0 once aborted, 100 once
        every step is done.
        """
        if self.strategy is not Strategy.CANARY:
            return None
        if self.abort:
            return 0
        if self.current_step is None:
            return 100
        if self.traffic_routing and self.canary_weight is not None:
            return self.canary_weight
        for step in reversed(self.steps[: (self.step_index or 0) + 1]):
            if step.weight is not None:
                return step.weight
        return 0

    def runs_image(self, expected: str) -> bool:
        """Whether a container of the pod template runs ``expected``: the same reference, or the tag
        or digest it ends with (``1.4.2`` matches ``…/hello:1.4.2``)."""
        return any(
            image == expected or image.endswith(f":{expected}") or image.endswith(f"@{expected}")
            for image in self.images
        )


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one snapshot means: the phase and message to show, and the outcome once final."""

    phase: str
    message: str
    outcome: Outcome | None = None
    waiting_for_promotion: bool = False


@dataclass(frozen=True, slots=True)
class RolloutResult:
    """How following a rollout ended.

    ``steps_seen`` lists the canary step indexes observed, in order; ``final_weight`` is the
    canary weight at the end (None for blue-green, or when the rollout was never read); ``pods``
    are the pods at the last read.
    """

    outcome: Outcome
    name: str
    namespace: str
    message: str
    steps_seen: tuple[int, ...]
    step_count: int
    final_weight: int | None
    pods: tuple[PodInfo, ...]
    elapsed_seconds: float


def exit_code(result: RolloutResult) -> int:
    """0 for a healthy rollout; 1 when it was aborted, failed or did not finish in time."""
    return 0 if result.outcome is Outcome.HEALTHY else 1


def promote_hint(name: str, namespace: str) -> str:
    return f"kubectl argo rollouts promote {name} -n {namespace}"


def assess(snapshot: RolloutSnapshot, *, expected_image: str | None = None) -> Assessment:
    """Decide what ``snapshot`` means (see the module's docstring)."""
    s = snapshot
    if expected_image is not None and not s.runs_image(expected_image):
        running = ", ".join(s.images) or "no containers in spec.template"
        return Assessment("Progressing", f"waiting for image {expected_image} (the pod template has {running})")
    if not _generation_observed(s):
        return Assessment("Progressing", "waiting for rollout spec update to be observed")
    if s.controller_pause and not s.pause_reasons:
        return Assessment("Progressing", "waiting for rollout to unpause")
    phase, message = (s.phase, s.message) if s.phase else calculate_phase(s)
    aborted = s.abort or message.startswith(_ABORTED_REASON) or any(r == _ABORTED_REASON for _, r, _ in s.conditions)
    if aborted:
        return Assessment("Degraded", message or "aborted", Outcome.ABORTED)
    if phase == "Degraded":
        return Assessment(phase, message, Outcome.FAILED)
    if phase == "Healthy":
        if s.strategy is Strategy.CANARY and (not s.stable_rs or s.stable_rs != s.current_pod_hash):
            return Assessment("Progressing", "waiting for the new revision to become stable")
        if s.strategy is Strategy.BLUE_GREEN and s.active_selector != s.current_pod_hash:
            return Assessment("Progressing", "active service cutover pending")
        return Assessment(phase, message, Outcome.HEALTHY)
    if phase == "Paused":
        step = s.current_step
        only_the_step = not s.spec_paused and set(s.pause_reasons) <= {_CANARY_PAUSE_STEP}
        if step is not None and step.kind == "pause" and step.duration is not None and only_the_step:
            return Assessment(phase, f"pausing {step.duration} at step {s.step_label}")
        reasons = ", ".join(s.pause_reasons) or ("manually paused" if s.spec_paused else message)
        return Assessment(phase, f"paused, waiting for promotion ({reasons})", waiting_for_promotion=True)
    return Assessment(phase or "Progressing", message)


def calculate_phase(s: RolloutSnapshot) -> tuple[str, str]:
    """Phase and message for a controller that writes no ``status.phase`` (``CalculateRolloutPhase``)."""
    for type_, reason, message in s.conditions:
        if type_ == _INVALID_SPEC:
            return "Degraded", f"{_INVALID_SPEC}: {message}"
        if reason in (_ABORTED_REASON, _TIMED_OUT_REASON):
            return "Degraded", f"{reason}: {message}"
    if s.spec_paused:
        return "Paused", "manually paused"
    if s.pause_reasons:
        return "Paused", s.pause_reasons[0]
    if s.updated_replicas < s.replicas:
        return "Progressing", "more replicas need to be updated"
    if s.available_replicas < s.updated_replicas:
        return "Progressing", "updated replicas are still becoming available"
    if s.strategy is Strategy.BLUE_GREEN:
        if not s.active_selector or s.active_selector != s.current_pod_hash:
            return "Progressing", "active service cutover pending"
        if not s.stable_rs or s.stable_rs != s.current_pod_hash:
            if s.post_promotion_analysis:
                return "Progressing", "waiting for analysis to complete"
            return "Progressing", "waiting for post-promotion verification to complete"
    elif s.strategy is Strategy.CANARY:
        if not s.traffic_routing and s.status_replicas > s.updated_replicas:
            return "Progressing", "old replicas are pending termination"
        if not s.stable_rs or s.stable_rs != s.current_pod_hash:
            return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


def describe(snapshot: RolloutSnapshot, assessment: Assessment, pods: Sequence[PodInfo]) -> str:
    """The progress line for one state: ``NAME: PHASE, step i/n, weight w%, r/t pods ready: MESSAGE``."""
    s = snapshot
    parts = [assessment.phase]
    if s.step_label:
        parts.append(f"step {s.step_label}")
    if s.weight is not None:
        parts.append(f"weight {s.weight}%")
    if s.strategy is Strategy.BLUE_GREEN and s.current_pod_hash:
        parts.append("active: new revision" if s.active_selector == s.current_pod_hash else "active: previous revision")
    parts.append(f"{sum(p.ready for p in pods)}/{len(pods)} pods ready")
    line = f"{s.name}: " + ", ".join(parts)
    if assessment.message:
        line += f": {assessment.message}"
    problems = _pod_problems(pods)
    if problems:
        line += f" ({problems})"
    return line


def follow_rollout(
    api: KubeApi,
    name: str,
    namespace: str,
    *,
    expected_image: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    progress: Progress = silent,
) -> RolloutResult:
    """Poll the Rollout ``namespace/name`` and its pods every ``interval_seconds`` until it is
    healthy, aborted or failed, or ``timeout_seconds`` have passed.

    ``expected_image`` is the image reference or tag the release applied (see
    :meth:`RolloutSnapshot.runs_image`). Raises :class:`~qualisys_infra.core.errors.UsageError`
    for bad arguments or a rollout that does not exist, :class:`~.kube.KubeError` when the API
    cannot be reached or refuses (transient failures after the first read are retried).
    """
    if not name or not namespace:
        raise UsageError("following a rollout needs its name and namespace")
    if not timeout_seconds > 0 or not interval_seconds > 0:
        raise UsageError(
            f"rollout timeout and interval must be positive, got {timeout_seconds} s and {interval_seconds} s"
        )
    if expected_image is not None and not expected_image.strip():
        raise UsageError("the expected image is empty")
    started = time.monotonic()
    deadline = started + timeout_seconds

    def read() -> tuple[RolloutSnapshot, tuple[PodInfo, ...]]:
        rollout = RolloutSnapshot.from_json(api.get_rollout(namespace, name))
        selected = api.list_pods(rollout.pods) if rollout.match_labels else []
        return rollout, tuple(PodInfo.from_json(p) for p in selected if _counts(p))

    snapshot, pods = read()  # no retry yet: a wrong name, URL or token fails at once
    steps_seen: list[int] = []
    last_line = ""
    api_trouble = ""
    while True:
        assessment = assess(snapshot, expected_image=expected_image)
        fresh = _generation_observed(snapshot) and (expected_image is None or snapshot.runs_image(expected_image))
        if fresh and snapshot.step_index is not None and snapshot.steps and snapshot.step_index not in steps_seen:
            steps_seen.append(snapshot.step_index)
        line = describe(snapshot, assessment, pods)
        if line != last_line:
            progress(line)
            last_line = line
        if assessment.outcome is not None:
            message = _final_message(snapshot, assessment, pods)
            return _result(snapshot, assessment.outcome, message, steps_seen, pods, started)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            message = _timeout_message(snapshot, assessment, pods, timeout_seconds, api_trouble, expected_image)
            return _result(snapshot, Outcome.TIMED_OUT, message, steps_seen, pods, started)
        time.sleep(min(interval_seconds, remaining))
        try:
            snapshot, pods = read()
        except KubeError as exc:
            if not exc.transient:
                raise
            if str(exc) != api_trouble:
                progress(f"{name}: API error, retrying until the deadline: {exc}")
            api_trouble = str(exc)
        else:
            api_trouble = ""


def _result(
    snapshot: RolloutSnapshot,
    outcome: Outcome,
    message: str,
    steps_seen: Sequence[int],
    pods: tuple[PodInfo, ...],
    started: float,
) -> RolloutResult:
    return RolloutResult(
        outcome=outcome,
        name=snapshot.name,
        namespace=snapshot.namespace,
        message=message,
        steps_seen=tuple(steps_seen),
        step_count=len(snapshot.steps),
        final_weight=snapshot.weight,
        pods=pods,
        elapsed_seconds=round(time.monotonic() - started, 3),
    )


def _final_message(s: RolloutSnapshot, a: Assessment, pods: Sequence[PodInfo]) -> str:
    where = f"rollout {s.name} in {s.namespace}"
    ready = f"{sum(p.ready for p in pods)}/{len(pods)} pods ready"
    if a.outcome is Outcome.HEALTHY:
        return f"{where} is healthy ({', '.join(s.images) or 'no image'}; {ready})"
    parts = [a.message]
    failed_runs = [str(r) for r in s.analysis_runs if r.status in _FAILED_ANALYSIS]
    parts.extend(failed_runs)
    problems = _pod_problems(pods)
    if problems:
        parts.append(problems)
    detail = "; ".join(p for p in parts if p)
    if a.outcome is Outcome.ABORTED:
        return f"{where} was aborted and rolled back to the stable revision: {detail}"
    return f"{where} is degraded: {detail}"


def _timeout_message(
    s: RolloutSnapshot,
    a: Assessment,
    pods: Sequence[PodInfo],
    timeout_seconds: float,
    api_trouble: str,
    expected_image: str | None,
) -> str:
    state = [a.phase]
    if s.step_label:
        state.append(f"step {s.step_label}")
    if s.weight is not None:
        state.append(f"weight {s.weight}%")
    text = (
        f"rollout {s.name} in {s.namespace} did not finish within {timeout_seconds:g} s; last seen {', '.join(state)}"
    )
    if a.message:
        text += f": {a.message}"
    problems = _pod_problems(pods)
    if problems:
        text += f"; {problems}"
    if a.waiting_for_promotion:
        text += f"; to promote it: {promote_hint(s.name, s.namespace)}"
    if expected_image is not None and not s.runs_image(expected_image):
        text += "; was the apps stack applied with this image?"
    if api_trouble:
        text += f"; the last read failed: {api_trouble}"
    return text


def _counts(pod: Mapping[str, Any]) -> bool:
    """Whether a pod counts in ``ready/total``: not terminating, not finished (evicted pods are Failed)."""
    if _obj(pod, "metadata").get("deletionTimestamp"):
        return False
    return _str(_obj(pod, "status"), "phase") not in ("Succeeded", "Failed")


def _pod_problems(pods: Sequence[PodInfo]) -> str:
    bad = [f"{p.name} {'/'.join(p.problems)}" for p in pods if p.problems]
    return f"pods not starting: {', '.join(bad)}" if bad else ""


def _generation_observed(s: RolloutSnapshot) -> bool:
    """``isGenerationObserved``: a numeric observedGeneration must equal metadata.generation (a hash,
    from a v0.9 controller, cannot be compared and counts as observed)."""
    if not s.observed_generation.isdigit():
        return True
    return int(s.observed_generation) >= s.generation


def _step(step: Mapping[str, Any]) -> CanaryStep:
    if "setWeight" in step:
        weight = step.get("setWeight")
        return CanaryStep("setWeight", weight=weight if isinstance(weight, int) else None)
    if "pause" in step:
        pause = step.get("pause")
        duration = pause.get("duration") if isinstance(pause, dict) else None
        return CanaryStep("pause", duration=None if duration is None else str(duration))
    kind = next(iter(step), "unknown")
    return CanaryStep(str(kind))


def _obj(value: object, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, dict) else {}


def _objs(value: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    found = value.get(key)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _str(value: Mapping[str, Any], key: str) -> str:
    found = value.get(key)
    return found if isinstance(found, str) else ""


def _int(value: Mapping[str, Any], key: str) -> int | None:
    found = value.get(key)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


# -- going back to an earlier revision ---------------------------------------------------------


class RollbackError(ToolkitError):
    """The rollout cannot be put back on the revision asked for (none runs that image any more, the
    rollout changed in between). Exit code 1: a release that could not be undone."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Revision:
    """One of a rollout's ReplicaSets: its revision number, name, images and pod template."""

    number: int
    name: str
    images: tuple[str, ...]
    template: Mapping[str, Any]

    def runs_image(self, expected: str) -> bool:
        """As :meth:`RolloutSnapshot.runs_image`: the same reference, or its tag or digest."""
        return any(
            image == expected or image.endswith(f":{expected}") or image.endswith(f"@{expected}")
            for image in self.images
        )


def revisions(rollout: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]) -> list[Revision]:
    """The ReplicaSets the rollout controls (an owner reference with ``controller: true`` and the
    rollout's uid), newest revision first; ReplicaSets without a revision number are left out."""
    uid = _str(_obj(rollout, "metadata"), "uid")
    found: list[Revision] = []
    for replica_set in replica_sets:
        metadata = _obj(replica_set, "metadata")
        owners = metadata.get("ownerReferences")
        controlled = isinstance(owners, list) and any(
            isinstance(o, dict) and o.get("controller") is True and o.get("uid") == uid and uid for o in owners
        )
        number = _str(_obj(metadata, "annotations"), REVISION_ANNOTATION)
        if not controlled or not number.isdigit():
            continue
        template = _obj(_obj(replica_set, "spec"), "template")
        containers = _objs(_obj(template, "spec"), "containers")
        found.append(
            Revision(
                number=int(number),
                name=_str(metadata, "name"),
                images=tuple(_str(c, "image") for c in containers),
                template=template,
            )
        )
    return sorted(found, key=lambda r: r.number, reverse=True)


def undo(api: KubeApi, name: str, namespace: str, *, to_image: str, progress: Progress = silent) -> Revision:
    """Put the rollout ``namespace/name`` back on its newest earlier revision that runs ``to_image``
    (a tag or reference, as :meth:`Revision.runs_image`); that revision. Follow it with
    :func:`follow_rollout` (``expected_image=to_image``) to see it healthy.

    Raises :class:`RollbackError` when no earlier revision runs that image (the ReplicaSets beyond
    ``revisionHistoryLimit`` are gone) or the rollout changed since it was read; :class:`~.kube.KubeError`
    when the API refuses.
    """
    rollout = api.get_rollout(namespace, name)
    snapshot = RolloutSnapshot.from_json(rollout)
    where = f"rollout {name} in {namespace}"
    if not snapshot.match_labels:
        raise RollbackError(f"{where} has no spec.selector.matchLabels to find its ReplicaSets by")
    history = revisions(rollout, api.list_replica_sets(snapshot.pods))
    current = _str(_obj(_obj(rollout, "metadata"), "annotations"), REVISION_ANNOTATION)
    earlier = [r for r in history if str(r.number) != current]
    target = next((r for r in earlier if r.runs_image(to_image)), None)
    if target is None:
        kept = ", ".join(f"{r.number} ({', '.join(r.images)})" for r in earlier) or "none"
        raise RollbackError(f"{where}: no earlier revision runs {to_image} (revisions kept: {kept})")
    template = copy.deepcopy(dict(target.template))
    labels = _obj(template, "metadata").get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_HASH_LABEL, None)
    progress(f"{name}: back to revision {target.number} ({', '.join(target.images)})")
    try:
        api.patch_rollout(
            namespace,
            name,
            [
                {"op": "test", "path": "/metadata/generation", "value": snapshot.generation},
                {"op": "replace", "path": "/spec/template", "value": template},
            ],
        )
    except KubeError as exc:
        raise RollbackError(f"{where}: could not go back to revision {target.number}: {exc}") from None
    return target
