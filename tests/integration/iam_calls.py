"""The AWS calls a function makes, the IAM requests they become, and what its role says to them.

* :class:`CallRecorder` records every API call a function's handler makes through its SDK clients
  (botocore ``before-parameter-build`` hooks; a stand-in that is not a botocore client, such as the
  fake MediaConvert, is wrapped in a recording proxy), with the request parameters.
* :class:`InvocationWatch` cross-checks the recorder: every SDK call made while a handler runs,
  through any client at all (botocore's history events), must be among the recorded calls.
* :class:`DeployedStack` is the moto stack seen as the template's sample deployment: physical
  names that moto chose (bucket names, key IDs, role ARNs) are translated to what
  :mod:`mediapipe_cfn.security.intrinsics` resolves for the same logical resource, so the recorded
  requests and the template's resolved policies speak about the same ARNs.
* :func:`requirements_of_call` is the explicit table from one API call to the IAM requests it needs
  (action, resource ARN, condition keys), including the KMS requests the service makes on the
  caller's behalf; :func:`platform_requirements` lists what the Lambda service does with the
  function's role (event source mapping, on-failure destination, logs, traces, environment).
* :class:`Audit` evaluates every requirement against the function's role (and the resource's
  policy, and the key policy) with :mod:`mediapipe_cfn.security.evaluator`, and lists the grants
  of each role that no requirement uses.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlparse

import botocore.session
from botocore import xform_name
from botocore.history import BaseHistoryHandler, get_global_history_recorder

from mediapipe_cfn import ids
from mediapipe_cfn.security.evaluator import (
    Decision,
    Grant,
    Principal,
    PrincipalMatch,
    Request,
    action_match,
    arn_match,
    condition_key_matches,
    evaluate_access,
    evaluate_policy,
    statement_applies,
)
from mediapipe_cfn.security.intrinsics import (
    Resolver,
    SampleEnvironment,
    Scenario,
    UnresolvableError,
    resolve_template,
    sequence_of,
)
from mediapipe_cfn.security.policies import IamPolicy, PolicyKind, extract_policies

# Lambda's log stream names look like this; any stream of the function's group is the same grant.
LOG_STREAM_NAME: Final = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
MEDIACONVERT_SERVICE: Final = "mediaconvert.amazonaws.com"
# Body-like parameters are not needed to derive a permission and may be streams.
_UNRECORDED_PARAMETERS: Final = frozenset({"Body"})


# --- recording -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedCall:
    """One API call a function's handler made: botocore service name, operation, parameters."""

    function_id: str
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str | None = None  # None: the stack's region (another: the regional fallback's)

    @property
    def label(self) -> str:
        return f"{self.service}.{self.operation}"


def _recorded_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in params.items() if k not in _UNRECORDED_PARAMETERS})


@functools.cache
def _operation_names(service: str) -> dict[str, str]:
    """``create_job`` -> ``CreateJob`` for every operation of the service's model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


class _RecordingProxy:
    """Records the calls made to a stand-in client (same method names as botocore's)."""

    def __init__(self, target: Any, service: str, record: Callable[[str, str, Any], None]) -> None:
        self._target = target
        self._service = service
        self._record = record

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        operation = _operation_names(self._service).get(name)
        if operation is None or not callable(attribute):
            return attribute

        def call(**params: Any) -> Any:
            self._record(self._service, operation, params)
            return attribute(**params)

        return call


@dataclass
class CallRecorder:
    """Every AWS API call the attached functions make, in order."""

    calls: list[RecordedCall] = field(default_factory=list)

    def attach(self, function_id: str, clients: Any) -> None:
        """Record the calls of every client of ``clients`` (the handler's lazily built clients).

        Each client property is created now so that its hooks are in place before the first
        call; a property holding something that is not a botocore client (a test stand-in) is
        replaced by a recording proxy of it.
        """
        for name in sorted(_client_properties(type(clients))):
            client = getattr(clients, name)
            if hasattr(client, "meta") and hasattr(client.meta, "events"):
                client.meta.events.register(
                    "before-parameter-build",
                    functools.partial(self._on_botocore_call, function_id),
                    unique_id=f"iam-call-recorder-{id(self)}-{function_id}",
                )
            elif not isinstance(client, _RecordingProxy):
                setattr(clients, name, _RecordingProxy(client, name, self._recorder(function_id)))
        # MediaConvert of other regions (the regional fallback's stand-ins), by region.
        regional = getattr(clients, "regional_mediaconvert", {})
        for region, client in sorted(regional.items()):
            if not isinstance(client, _RecordingProxy):
                record = self._recorder(function_id, region)
                regional[region] = _RecordingProxy(client, "mediaconvert", record)

    def _recorder(
        self, function_id: str, region: str | None = None
    ) -> Callable[[str, str, Any], None]:
        def record(service: str, operation: str, params: Any) -> None:
            self.calls.append(
                RecordedCall(function_id, service, operation, _recorded_params(params), region)
            )

        return record

    def _on_botocore_call(
        self, function_id: str, params: Mapping[str, Any], model: Any, **_: Any
    ) -> None:
        service = model.service_model.service_name
        self._recorder(function_id)(service, model.name, params)


class _HistorySink(BaseHistoryHandler):
    """Forwards botocore's API_CALL history events to the active watch, if any."""

    def __init__(self) -> None:
        self.watch: InvocationWatch | None = None

    def emit(self, event_type: str, payload: Any, source: str) -> None:
        if event_type == "API_CALL" and self.watch is not None:
            self.watch.saw(payload["service"], payload["operation"])


# botocore's recorder has no way to remove a handler: one is added per process, and it does
# nothing unless a watch is active.
_HISTORY_SINK: Final = _HistorySink()
get_global_history_recorder().add_handler(_HISTORY_SINK)


@dataclass
class InvocationWatch:
    """Every SDK call made while a function's handler runs, whichever client makes it.

    The cross-check of :class:`CallRecorder`: a client the recorder was not attached to (built
    outside the handler's client registry) still shows up here.
    """

    calls: list[tuple[str, str]] = field(default_factory=list)
    current: str | None = None

    @contextmanager
    def watching(self) -> Iterator[InvocationWatch]:
        recorder = get_global_history_recorder()
        _HISTORY_SINK.watch = self
        recorder.enable()
        try:
            yield self
        finally:
            recorder.disable()
            _HISTORY_SINK.watch = None

    @contextmanager
    def invoking(self, function_id: str) -> Iterator[None]:
        self.current = function_id
        try:
            yield
        finally:
            self.current = None

    def saw(self, service: str, operation: str) -> None:
        if self.current is not None:
            self.calls.append((self.current, f"{service}.{operation}"))

    def unrecorded(self, recorded: Iterable[RecordedCall]) -> list[tuple[str, str]]:
        """Calls seen during invocations that the recorder does not have (with repeats)."""
        missing = Counter(self.calls) - Counter((c.function_id, c.label) for c in recorded)
        return sorted(missing.elements())


def _client_properties(cls: type) -> list[str]:
    return [
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if isinstance(value, functools.cached_property)
    ]


# --- the deployed stack, in the template's sample world --------------------------------------


@dataclass(frozen=True)
class Key:
    """A KMS key as IAM sees it: its ARN, its aliases, and its key policy when the stack owns it."""

    arn: str
    aliases: tuple[str, ...]
    policy: Mapping[str, Any] | None


class DeployedStack:
    """The moto stack as the template's sample deployment.

    ``physical`` holds what moto created for each logical ID (``TemplateStack.physical``);
    ``moto_keys`` maps every name of each KMS key in moto (key ID, ARN, alias name, alias ARN) to
    ``(key ARN, alias names)``.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        scenario: Scenario,
        env: SampleEnvironment,
        physical: Mapping[str, Mapping[str, str]],
        moto_keys: Mapping[str, tuple[str, tuple[str, ...]]],
    ) -> None:
        self.template = template
        self.scenario = scenario
        self.env = env
        self.resolver = Resolver(template, scenario, env)
        self.resources = resolve_template(template, scenario, env)
        self.policies: list[IamPolicy] = extract_policies(template, scenario, env)
        self._sample = self._translation(physical)
        self._logical = self._logical_ids()
        self._keys = self._key_catalog(moto_keys)

    # names

    def _translation(self, physical: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        """Moto's value of each attribute -> the resolver's value of the same attribute."""
        translation: dict[str, str] = {}
        for logical_id, attributes in physical.items():
            if logical_id not in self.resources:
                continue
            for attribute, value in attributes.items():
                try:
                    sample = (
                        self.resolver.ref(logical_id)
                        if attribute == "Ref"
                        else self.resolver.get_att(logical_id, attribute)
                    )
                except UnresolvableError:
                    continue
                if isinstance(sample, str):
                    translation[value] = sample
        return translation

    def _logical_ids(self) -> dict[str, str]:
        """Sample name or ARN -> logical ID, for every resource the scenario creates."""
        found: dict[str, str] = {}
        for logical_id in sorted(self.resources):
            for resolve in (self.resolver.ref, lambda i: self.resolver.get_att(i, "Arn")):
                try:
                    value = resolve(logical_id)
                except UnresolvableError:
                    continue
                if isinstance(value, str):
                    found.setdefault(value, logical_id)
        return found

    def sample(self, value: str) -> str:
        """A moto physical name or ARN as the sample deployment names it (others unchanged)."""
        return self._sample.get(value, value)

    def logical_id(self, sample_name: str) -> str | None:
        return self._logical.get(sample_name)

    def role_of(self, function_id: str) -> str:
        role = self.template["Resources"][function_id]["Properties"]["Role"]
        logical_id, _ = role["Fn::GetAtt"]
        return str(logical_id)

    def function_name(self, function_id: str) -> str:
        return self.resolver.physical_name(function_id)

    # ARNs

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.env.partition}:s3:::{self.sample(bucket)}"

    def object_arn(self, bucket: str, key: str) -> str:
        return f"{self.bucket_arn(bucket)}/{key}"

    def queue_arn(self, queue_url: str) -> str:
        # https://sqs.<region>.<suffix>/<account>/<name> -> arn:<partition>:sqs:<region>:...
        url = urlparse(self.sample(queue_url))
        account, name = url.path.strip("/").split("/")[-2:]
        region = url.netloc.split(".")[1]
        return f"arn:{self.env.partition}:sqs:{region}:{account}:{name}"

    def table_arn(self, table: str) -> str:
        name = self.sample(table)
        return name if name.startswith("arn:") else self.env.arn("dynamodb", f"table/{name}")

    def parameter_arn(self, name: str) -> str:
        name = self.sample(name)
        if name.startswith("arn:"):
            return name
        return self.env.arn("ssm", "parameter" + (name if name.startswith("/") else f"/{name}"))

    def event_bus_arn(self, bus: str) -> str:
        return bus if bus.startswith("arn:") else self.env.arn("events", f"event-bus/{bus}")

    # encryption at rest

    def _key_catalog(self, moto_keys: Mapping[str, tuple[str, tuple[str, ...]]]) -> dict[str, Key]:
        key_policy = self._key_policy()
        catalog: dict[str, Key] = {}
        for name, (moto_arn, aliases) in moto_keys.items():
            arn = self.sample(moto_arn)
            owned = self.logical_id(arn) == ids.KMS_KEY
            key = Key(arn, aliases, key_policy if owned else None)
            catalog[name] = catalog[self.sample(name)] = catalog[arn] = key
        return catalog

    def _key_policy(self) -> Mapping[str, Any] | None:
        for policy in self.policies:
            if policy.kind is PolicyKind.RESOURCE and policy.logical_id == ids.KMS_KEY:
                return policy.document
        return None

    def key(self, reference: str) -> Key | None:
        """The key a key ID, key ARN, alias name or alias ARN names (None: an AWS managed key).

        An alias of an AWS managed key (``alias/aws/...``) needs no grant in the role: its key
        policy lets every principal of the account use it through the service.
        """
        name = reference.split(":", 5)[-1]
        if name.startswith("alias/aws/"):
            return None
        known = self._keys.get(reference) or self._keys.get(self.sample(reference))
        if known is not None:
            return known
        # A key the deployment does not have (another account's, a mistake): authorised
        # against the name given, with no aliases and no key policy of this stack.
        return Key(self.sample(reference), (), None)

    def at_rest_key(self, sample_resource: str) -> Key | None:
        """The customer managed key that encrypts a resource of the stack, if any."""
        logical_id = self.logical_id(sample_resource)
        if logical_id is None:
            return None
        body = self.resources[logical_id]
        properties = body.get("Properties", {})
        kind = body["Type"]
        reference: Any = None
        if kind in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
            reference = properties.get("KmsMasterKeyId")
        elif kind == "AWS::DynamoDB::Table":
            sse = properties.get("SSESpecification", {})
            if sse.get("SSEEnabled") and sse.get("SSEType", "KMS") == "KMS":
                reference = sse.get("KMSMasterKeyId")
        elif kind == "AWS::S3::Bucket":
            rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
            for rule in sequence_of(rules):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                    reference = default.get("KMSMasterKeyID")
        return self.key(reference) if isinstance(reference, str) and reference else None

    # policies

    def identity_policies(self, role_id: str) -> list[Mapping[str, Any]]:
        return [
            p.document
            for p in self.policies
            if p.kind is PolicyKind.IDENTITY and p.logical_id == role_id
        ]

    def resource_policies(self, resource: str) -> list[Mapping[str, Any]]:
        """Policies governing the resource (for an object: its bucket's); never the key policy."""
        s3_prefix = f"arn:{self.env.partition}:s3:::"
        bucket = resource.split("/", 1)[0] if resource.startswith(s3_prefix) else resource
        return [
            p.document
            for p in self.policies
            if p.kind is PolicyKind.RESOURCE
            and p.logical_id != ids.KMS_KEY
            and {resource, bucket} & set(p.attached_to)
        ]


# --- from calls to IAM requests --------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Requirement:
    """One IAM request a function needs allowed, and what makes it."""

    function_id: str
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...]
    source: str  # the API call ("s3.PutObject") or the Lambda feature that makes the request
    key_policy: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def request(self, principal: Principal) -> Request:
        context = {key: list(value) if isinstance(value, tuple) else value
                   for key, value in self.context}  # fmt: skip
        return Request(principal, self.action, self.resource, context)

    def describe(self) -> str:
        conditions = ", ".join(f"{k}={_text(v)}" for k, v in self.context if k not in _COMMON)
        return f"{self.action} on {self.resource}" + (f" [{conditions}]" if conditions else "")


_COMMON: Final = frozenset({"aws:SecureTransport", "kms:CallerAccount"})


def _text(value: Any) -> str:
    return "|".join(value) if isinstance(value, tuple) else str(value)


@dataclass(frozen=True)
class _Need:
    """An IAM request before it is tied to a function."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    key: Key | None = None


def _frozen(context: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in context.items())
    )


def _key_use(stack: DeployedStack, key: Key | None, service: str, *actions: str) -> list[_Need]:
    """What a service does with the caller's permissions when the data is under ``key``."""
    if key is None:
        return []
    via = f"{service}.{stack.env.region}.{stack.env.url_suffix}"
    return [_key_need(stack, key, action, {"kms:ViaService": via}) for action in actions]


def _key_need(
    stack: DeployedStack, key: Key, action: str, context: Mapping[str, Any] | None = None
) -> _Need:
    full = {"kms:CallerAccount": stack.env.account_id, **(context or {})}
    if key.aliases:
        full["kms:ResourceAliases"] = list(key.aliases)
    return _Need(action, key.arn, full, key)


# Each rule turns the parameters of one operation into the IAM requests it needs. An operation
# missing from the table fails the audit: a new call must be mapped here deliberately.
Rule = Callable[[DeployedStack, Mapping[str, Any]], list[_Need]]


def _s3_read(stack: DeployedStack, params: Mapping[str, Any], *, with_data: bool) -> list[_Need]:
    # A read of a specific version is authorised as s3:GetObjectVersion; HeadObject needs the
    # same actions as GetObject but returns no data, so it needs no decryption.
    action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
    needs = [_Need(action, stack.object_arn(params["Bucket"], params["Key"]))]
    if with_data:
        bucket = stack.bucket_arn(params["Bucket"])
        needs += _key_use(stack, stack.at_rest_key(bucket), "s3", "kms:Decrypt")
    return needs


def _s3_put_object(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    context: dict[str, Any] = {}
    if "ServerSideEncryption" in params:
        context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if "SSEKMSKeyId" in params:
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = stack.sample(
            params["SSEKMSKeyId"]
        )
    needs = [_Need("s3:PutObject", stack.object_arn(params["Bucket"], params["Key"]), context)]
    if "SSEKMSKeyId" in params:
        key = stack.key(params["SSEKMSKeyId"])
    elif params.get("ServerSideEncryption") in (None, "aws:kms"):
        key = stack.at_rest_key(stack.bucket_arn(params["Bucket"]))
    else:
        key = None
    # A single-part SSE-KMS put asks KMS for a data key (multipart uploads also decrypt).
    return needs + _key_use(stack, key, "s3", "kms:GenerateDataKey")


def _s3_copy_object(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # A copy reads its source (by version when one is named, decrypting it under the source
    # bucket's key) and writes its target as a put with the same encryption headers.
    source = params["CopySource"]
    if isinstance(source, str):
        path, _, query = source.partition("?versionId=")
        bucket, _, key = unquote(path).partition("/")
        source = {"Bucket": bucket, "Key": key, **({"VersionId": query} if query else {})}
    target = {k: v for k, v in params.items() if k != "CopySource"}
    return _s3_read(stack, source, with_data=True) + _s3_put_object(stack, target)


def _sqs(action: str, *key_actions: str) -> Rule:
    def rule(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
        queue = stack.queue_arn(params["QueueUrl"])
        key = stack.at_rest_key(queue)
        return [_Need(action, queue), *_key_use(stack, key, "sqs", *key_actions)]

    return rule


def _dynamodb(action: str) -> Rule:
    def rule(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
        table = stack.table_arn(params["TableName"])
        resource = f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table
        # DynamoDB decrypts the table key with the caller's permissions (cached for minutes);
        # items are encrypted under that table key, so no data key is generated per write.
        key = stack.at_rest_key(table)
        return [_Need(action, resource), *_key_use(stack, key, "dynamodb", "kms:Decrypt")]

    return rule


def _ssm_get_parameter(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # CloudFormation creates only String and StringList parameters, so reading one of the
    # stack's parameters (WithDecryption or not) involves no key.
    return [_Need("ssm:GetParameter", stack.parameter_arn(params["Name"]))]


def _events_put_events(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # Each entry is authorised on its bus with its own source and detail type.
    return [
        _Need(
            "events:PutEvents",
            stack.event_bus_arn(entry.get("EventBusName") or "default"),
            {"events:source": entry["Source"], "events:detail-type": entry["DetailType"]},
        )
        for entry in params["Entries"]
    ]


def _sns_publish(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    topic = stack.sample(params["TopicArn"])
    key = stack.at_rest_key(topic)
    return [
        _Need("sns:Publish", topic),
        *_key_use(stack, key, "sns", "kms:GenerateDataKey", "kms:Decrypt"),
    ]


def _kms_describe_key(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    reference = params["KeyId"]
    key = stack.key(reference)
    if key is None:
        return []
    context = {"kms:RequestAlias": reference.split(":", 5)[-1]} if "alias/" in reference else {}
    return [_key_need(stack, key, "kms:DescribeKey", context)]


def _mediaconvert_probe(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # Probe supports no resource-level permission, and takes no role: MediaConvert reads each
    # file with the caller's own credentials, so the caller needs to read (and decrypt) it.
    needs = [_Need("mediaconvert:Probe", "*")]
    for input_file in params.get("InputFiles") or []:
        location = urlparse(input_file["FileUrl"])
        if location.scheme == "s3":
            needs += _s3_read(
                stack, {"Bucket": location.netloc, "Key": location.path[1:]}, with_data=True
            )
    return needs


def _mediaconvert_queue(stack: DeployedStack, params: Mapping[str, Any]) -> str:
    queue = params.get("Queue")
    return stack.sample(queue) if queue else stack.env.arn("mediaconvert", "queues/Default")


def _mediaconvert_create_job(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    queue = _mediaconvert_queue(stack, params)
    needs = [_Need("mediaconvert:CreateJob", queue)]
    # A job template named by the job is authorised too (presets are named inside settings).
    if params.get("JobTemplate"):
        template = stack.env.arn("mediaconvert", f"jobTemplates/{params['JobTemplate']}")
        needs.append(_Need("mediaconvert:CreateJob", template))
    if params.get("Tags"):
        # Tags on create are authorised as tagging the job's queue resource as well.
        needs.append(_Need("mediaconvert:TagResource", queue))
    needs.append(
        _Need(
            "iam:PassRole",
            stack.sample(params["Role"]),
            {"iam:PassedToService": MEDIACONVERT_SERVICE},
        )
    )
    return needs


def _mediaconvert_list_jobs(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # Filtered by queue, ListJobs is authorised on that queue; unfiltered it needs "*".
    queue = stack.sample(params["Queue"]) if params.get("Queue") else "*"
    return [_Need("mediaconvert:ListJobs", queue)]


def _mediaconvert_job(action: str) -> Rule:
    def rule(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
        return [_Need(action, stack.env.arn("mediaconvert", f"jobs/{params['Id']}"))]

    return rule


def _mediaconvert_search_jobs(stack: DeployedStack, params: Mapping[str, Any]) -> list[_Need]:
    # Like ListJobs: filtered by queue it is authorised on that queue, unfiltered on "*".
    queue = stack.sample(params["Queue"]) if params.get("Queue") else "*"
    return [_Need("mediaconvert:SearchJobs", queue)]


RULES: Final[Mapping[tuple[str, str], Rule]] = {
    ("s3", "HeadObject"): functools.partial(_s3_read, with_data=False),
    ("s3", "GetObject"): functools.partial(_s3_read, with_data=True),
    ("s3", "PutObject"): _s3_put_object,
    ("s3", "CopyObject"): _s3_copy_object,
    ("sqs", "SendMessage"): _sqs("sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"),
    ("sqs", "ReceiveMessage"): _sqs("sqs:ReceiveMessage", "kms:Decrypt"),
    ("sqs", "DeleteMessage"): _sqs("sqs:DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _sqs("sqs:ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _sqs("sqs:GetQueueAttributes"),
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("dynamodb:Query"),
    ("ssm", "GetParameter"): _ssm_get_parameter,
    ("events", "PutEvents"): _events_put_events,
    ("sns", "Publish"): _sns_publish,
    ("kms", "DescribeKey"): _kms_describe_key,
    ("mediaconvert", "Probe"): _mediaconvert_probe,
    ("mediaconvert", "CreateJob"): _mediaconvert_create_job,
    ("mediaconvert", "ListJobs"): _mediaconvert_list_jobs,
    ("mediaconvert", "GetJob"): _mediaconvert_job("mediaconvert:GetJob"),
    ("mediaconvert", "CancelJob"): _mediaconvert_job("mediaconvert:CancelJob"),
    ("mediaconvert", "SearchJobs"): _mediaconvert_search_jobs,
}


class UnmappedCallError(LookupError):
    """A handler made a call the table does not know how to authorise."""


def _requirements(
    stack: DeployedStack, function_id: str, source: str, needs: Iterable[_Need]
) -> list[Requirement]:
    base = {"aws:SecureTransport": True}
    return [
        Requirement(
            function_id,
            need.action,
            need.resource,
            _frozen({**base, **need.context}),
            source,
            need.key.policy if need.key is not None else None,
        )
        for need in needs
    ]


def requirements_of_call(stack: DeployedStack, call: RecordedCall) -> list[Requirement]:
    rule = RULES.get((call.service, call.operation))
    if rule is None:
        raise UnmappedCallError(
            f"{call.function_id} calls {call.label}: add the IAM requests it needs to RULES"
        )
    return _requirements(stack, call.function_id, call.label, rule(_in(stack, call), call.params))


class _InRegion:
    """The stack as a call made in another region sees it: ARNs the rules build name that
    region (the regional fallback's MediaConvert)."""

    def __init__(self, stack: DeployedStack, region: str) -> None:
        self._stack = stack
        self.env = dataclasses.replace(stack.env, region=region)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)


def _in(stack: DeployedStack, call: RecordedCall) -> Any:
    return stack if call.region in (None, stack.env.region) else _InRegion(stack, call.region)


# --- what the Lambda service does with the function's role -----------------------------------


def platform_requirements(stack: DeployedStack, function_id: str) -> list[Requirement]:
    """Requests Lambda makes with the function's role, read from the template's own resources."""
    properties = stack.resources[function_id]["Properties"]
    name = stack.function_name(function_id)
    found: list[Requirement] = []
    found += _event_source_requirements(stack, function_id, name)
    found += _destination_requirements(stack, function_id, name)
    found += _log_requirements(stack, function_id, properties, name)
    if properties.get("TracingConfig", {}).get("Mode") == "Active":
        # The runtime's X-Ray daemon sends segments with the function's credentials.
        needs = [_Need(f"xray:{a}", "*") for a in ("PutTraceSegments", "PutTelemetryRecords")]
        found += _requirements(stack, function_id, "Lambda: active tracing", needs)
    if properties.get("KmsKeyArn"):
        # With a customer managed key, Lambda decrypts the environment with the function's role
        # when an execution environment starts, under an encryption context naming the function.
        key = stack.key(properties["KmsKeyArn"])
        if key is not None:
            via = f"lambda.{stack.env.region}.{stack.env.url_suffix}"
            context = {"kms:EncryptionContext:LambdaFunctionName": name, "kms:ViaService": via}
            needs = [_key_need(stack, key, "kms:Decrypt", context)]
            found += _requirements(stack, function_id, "Lambda: environment decryption", needs)
    return found


def _refers_to(value: Any, function_id: str, name: str) -> bool:
    return value in (function_id, name) or (
        isinstance(value, str) and value.endswith(f":function:{name}")
    )


def _raw_properties(stack: DeployedStack, kind: str) -> dict[str, Mapping[str, Any]]:
    return {
        logical_id: body.get("Properties", {})
        for logical_id, body in sorted(stack.resources.items())
        if body["Type"] == kind
    }


def _event_source_requirements(
    stack: DeployedStack, function_id: str, name: str
) -> list[Requirement]:
    found: list[Requirement] = []
    for mapping in _raw_properties(stack, "AWS::Lambda::EventSourceMapping").values():
        if not _refers_to(mapping["FunctionName"], function_id, name):
            continue
        source = mapping["EventSourceArn"]
        if ":sqs:" not in source:
            raise UnmappedCallError(f"event source {source} of {function_id} is not mapped")
        # The event source mapping polls, deletes what succeeded and reads the queue's settings.
        needs = [
            _Need("sqs:ReceiveMessage", source),
            _Need("sqs:DeleteMessage", source),
            _Need("sqs:GetQueueAttributes", source),
            *_key_use(stack, stack.at_rest_key(source), "sqs", "kms:Decrypt"),
        ]
        found += _requirements(stack, function_id, "Lambda: SQS event source mapping", needs)
    return found


def _destination_requirements(
    stack: DeployedStack, function_id: str, name: str
) -> list[Requirement]:
    found: list[Requirement] = []
    for config in _raw_properties(stack, "AWS::Lambda::EventInvokeConfig").values():
        if not _refers_to(config["FunctionName"], function_id, name):
            continue
        for outcome, destination in sorted(config.get("DestinationConfig", {}).items()):
            target = destination["Destination"]
            service = next((s for s in ("sqs", "sns") if f":{s}:" in target), None)
            if service is None:
                raise UnmappedCallError(f"destination {target} of {function_id} is not mapped")
            action = "sqs:SendMessage" if service == "sqs" else "sns:Publish"
            key = stack.at_rest_key(target)
            needs = [
                _Need(action, target),
                *_key_use(stack, key, service, "kms:GenerateDataKey", "kms:Decrypt"),
            ]
            # Lambda sends the failed (or succeeded) event record with the function's role.
            found += _requirements(stack, function_id, f"Lambda: {outcome} destination", needs)
    return found


def _log_requirements(
    stack: DeployedStack, function_id: str, properties: Mapping[str, Any], name: str
) -> list[Requirement]:
    group = properties.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{name}"
    stream = stack.env.arn("logs", f"log-group:{group}:log-stream:{LOG_STREAM_NAME}")
    needs = [_Need("logs:CreateLogStream", stream), _Need("logs:PutLogEvents", stream)]
    return _requirements(stack, function_id, "Lambda: function logs", needs)


# --- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Denial:
    """A requirement AWS would refuse."""

    requirement: Requirement
    role_id: str
    decision: Decision
    role_allows: bool

    def describe(self) -> str:
        why = (
            f"{self.role_id} allows no {self.requirement.action} here"
            if not self.role_allows
            else f"{self.decision.value} by a resource or key policy"
        )
        return (
            f"{self.requirement.function_id} ({self.requirement.source}): "
            f"{self.requirement.describe()}: {why}"
        )


@dataclass(frozen=True, order=True)
class GrantUnit:
    """One part of an Allow statement: an action, a resource, or one value of a condition."""

    role_id: str
    sid: str
    part: str  # "action", "resource" or "<operator> <key>"
    value: str

    def describe(self) -> str:
        return f"{self.role_id}/{self.sid}: {self.part} {self.value}"


def grant_units(role_id: str, statement: Mapping[str, Any], index: int) -> list[GrantUnit]:
    sid = str(statement.get("Sid") or f"#{index}")
    units = [GrantUnit(role_id, sid, "action", str(a)) for a in sequence_of(statement["Action"])]
    units += [
        GrantUnit(role_id, sid, "resource", str(r)) for r in sequence_of(statement["Resource"])
    ]
    for operator, keys in sorted(statement.get("Condition", {}).items()):
        for key, values in sorted(keys.items()):
            units += [
                GrantUnit(role_id, sid, f"{operator} {key}", str(v)) for v in sequence_of(values)
            ]
    return units


def _used_units(
    role_id: str, statement: Mapping[str, Any], index: int, request: Request
) -> set[GrantUnit]:
    """The parts of an applying statement that this request relies on."""
    used: set[GrantUnit] = set()
    for unit in grant_units(role_id, statement, index):
        if unit.part == "action":
            hit = action_match(unit.value, request.action)
        elif unit.part == "resource":
            hit = arn_match(unit.value, request.resource)
        else:
            operator, key = unit.part.split(" ", 1)
            hit = condition_key_matches(operator, key, unit.value, request)
        if hit:
            used.add(unit)
    return used


def without_statement(document: Mapping[str, Any], sid: str) -> dict[str, Any]:
    """A copy of a policy document without the statement ``sid``."""
    statements = [s for s in sequence_of(document.get("Statement")) if s.get("Sid") != sid]
    if len(statements) == len(sequence_of(document.get("Statement"))):
        raise KeyError(f"no statement {sid!r} in the document")
    return {**document, "Statement": statements}


@dataclass
class Audit:
    """The requirements of each function of a run, judged against the deployed policies."""

    stack: DeployedStack
    calls: Sequence[RecordedCall]
    function_ids: Sequence[str]
    requirements: list[Requirement] = field(init=False)

    def __post_init__(self) -> None:
        found: set[Requirement] = set()
        for call in self.calls:
            found.update(requirements_of_call(self.stack, call))
        for function_id in self.function_ids:
            found.update(platform_requirements(self.stack, function_id))
        self.requirements = sorted(found)

    def principal(self, role_id: str) -> Principal:
        return Principal.role(self.stack.resolver.arn(role_id))

    def denials(
        self, identity_overrides: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
    ) -> list[Denial]:
        """Requirements AWS would refuse; ``identity_overrides`` replaces a role's policies."""
        overrides = identity_overrides or {}
        found: list[Denial] = []
        for requirement in self.requirements:
            role_id = self.stack.role_of(requirement.function_id)
            identity = overrides.get(role_id, self.stack.identity_policies(role_id))
            request = requirement.request(self.principal(role_id))
            role_grants = [evaluate_policy(d, request, resource_policy=False) for d in identity]
            role_allows = Grant.ALLOW in role_grants and Grant.DENY not in role_grants
            decision = evaluate_access(
                request,
                identity_policies=identity,
                resource_policies=self.stack.resource_policies(requirement.resource),
                key_policy=requirement.key_policy,
            )
            if not decision.allowed:
                found.append(Denial(requirement, role_id, decision, role_allows))
        return found

    def unexercised(self) -> list[GrantUnit]:
        """Parts of the roles' Allow statements that no requirement relies on."""
        offered: set[GrantUnit] = set()
        used: set[GrantUnit] = set()
        for function_id in self.function_ids:
            role_id = self.stack.role_of(function_id)
            requests = [
                r.request(self.principal(role_id))
                for r in self.requirements
                if r.function_id == function_id
            ]
            for document in self.stack.identity_policies(role_id):
                for index, statement in enumerate(sequence_of(document.get("Statement"))):
                    if statement.get("Effect") != "Allow":
                        continue
                    offered.update(grant_units(role_id, statement, index))
                    for request in requests:
                        applies = statement_applies(statement, request, resource_policy=False)
                        if applies is not PrincipalMatch.NONE:
                            used |= _used_units(role_id, statement, index, request)
        return sorted(offered - used)

    def table(self) -> str:
        """Each function's calls, the IAM requests they need, and the resources (sorted)."""
        lines: list[str] = []
        for function_id in self.function_ids:
            lines.append(f"{function_id} ({self.stack.role_of(function_id)})")
            rows = sorted(
                {
                    (r.source, r.describe())
                    for r in self.requirements
                    if r.function_id == function_id
                }
            )
            lines += [f"  {source:<38} -> {need}" for source, need in rows]
        return "\n".join(lines)
