"""IAM in the local stack: each function calls AWS with its own credentials, and only with what its role grants.

In AWS every function runs with its execution role's credentials, and a call its role does not grant is
refused (``AccessDeniedException``). Here all functions share one process and one set of cached boto3
clients, so the stack does three things (docs/IAM.md tells the whole story):

1. **Identities.** Every principal — each function, and the state machine's role — gets an IAM user in moto
   whose inline policy is what the SAM-transformed template grants its role, and an access key of its own.
   The stack itself (resource set-up, the stream pump, the test harness) signs with a key no principal owns,
   which moto serves unchecked, as CloudFormation and the Lambda service act with full rights in AWS.
2. **Credentials by invocation.** ``LocalFunction.invoke`` names the running function in `CURRENT_FUNCTION`;
   every botocore client without explicit keys gets credentials that botocore asks for the keys at each
   signing, presigned URLs included (``local.botocore_internals``), so a request signs as the function whose
   invocation makes it.
   Thread pools started inside an invocation carry the context along, as every thread of a Lambda sandbox
   has the role's credentials. moto's Step Functions engine signs with its own fixed key (``ak``) for every
   state machine; its ``lambda:Invoke`` calls are checked against the state machines' roles, each call
   counted as the call of the role that grants it (which state machine made it is not known here).
3. **Enforcement and record.** Before a call leaves botocore, `AccessControl` maps it to the IAM actions and
   resources AWS would authorise (``local.aws_calls``), evaluates them against the principal's statements
   (``local.iam_policy``), appends the call to the call log, and refuses a denied call as AWS does. moto then
   checks the request again on its side (signature, and the action — with resources for S3 only, see
   `moto_policy`).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local import botocore_internals
from local.aws_calls import IamCall, Targets, iam_calls
from local.iam_policy import Policy, Statement, amend, cached_transformed_template, principals
from local.sam_transform import state_machine_roles
from local.template import Resolver, resources, websocket_api

# What the stack itself and its test harness sign with (never a real credential). moto checks only the
# principals' keys: requests signed with this one, or any other, are served unchecked as before.
ADMIN_ACCESS_KEY_ID = "local"
ADMIN_SECRET_ACCESS_KEY = "local"
# moto's Step Functions engine creates its clients with these keys (moto/stepfunctions/parser/asl/utils/
# boto_client.py): whoever owns them in moto's IAM is the principal the engine calls Lambda as.
ENGINE_ACCESS_KEY_ID = "ak"
ENGINE_SECRET_ACCESS_KEY = "sk"
ENGINE_PRINCIPAL = "StepFunctionsEngine"  # moto's identity for those keys: every state machine role's grants
CALL_LOG_VARIABLE = "LOCAL_AWS_CALL_LOG"

CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("local_function", default=None)

# Per IAM action: the name moto authorises the same request by, where it differs (moto names non-S3 actions
# after the API operation).
_MOTO_ALIASES = {
    "lambda:invokefunction": ("lambda:Invoke",),
    "dynamodb:putitem": ("dynamodb:TransactWriteItems",),
    "dynamodb:updateitem": ("dynamodb:TransactWriteItems",),
    "dynamodb:deleteitem": ("dynamodb:TransactWriteItems",),
    "dynamodb:conditioncheckitem": ("dynamodb:TransactWriteItems",),
    "dynamodb:getitem": ("dynamodb:TransactGetItems",),
}


def moto_policy(statements: list[Statement]) -> dict[str, Any]:
    """The policy document moto holds for a principal.

    moto 5.2.5 knows the resource of an S3 request only: every other service is authorised against the
    resource ``*``, which a grant scoped to a table or a secret never matches. So S3 statements go to moto as
    written, and every other Allow is widened to ``Resource: *`` (moto checks the action; `AccessControl`
    checks the resource). Managed policies' logs/X-Ray grants never reach moto and are left out."""
    documents = []
    for statement in statements:
        if statement.managed or statement.has_condition:
            continue
        s3_actions = [a for a in statement.actions if a.lower().startswith("s3:")]
        other = [a for a in statement.actions if not a.lower().startswith("s3:")]
        key = "NotAction" if statement.not_action else "Action"
        if s3_actions:
            documents.append({"Effect": statement.effect, key: s3_actions, "Resource": list(statement.resources)})
        if other and statement.effect == "Allow":
            aliases = [alias for action in other for alias in _MOTO_ALIASES.get(action.lower(), ())]
            documents.append({"Effect": "Allow", key: sorted({*other, *aliases}), "Resource": "*"})
    if not documents:  # IAM refuses an empty policy; this one grants nothing
        documents.append({"Effect": "Deny", "Action": "none:None", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": documents}


def signs_as_function(invoke: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wraps ``LocalFunction.invoke``: the invocation, and whatever it starts, runs as that function."""

    @functools.wraps(invoke)
    def invoke_as_function(function: Any, event: Any) -> Any:
        running_as = CURRENT_FUNCTION.set(function.logical_id)
        try:
            return invoke(function, event)
        finally:
            CURRENT_FUNCTION.reset(running_as)

    return invoke_as_function


class CallLog:
    """JSON lines: each principal's statements once, then each distinct call (principal, action, resource,
    allowed, presigned) once — the stack repeats the same calls thousands of times."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._seen: set[tuple[str, str, str, bool, bool]] = set()
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8", buffering=1) if path else None

    def policies(self, policies: dict[str, list[Statement]]) -> None:
        for principal, statements in policies.items():
            self._write({"principal": principal, "statements": [s.to_json() for s in statements]})

    def call(self, principal: str, operation: str, call: IamCall, allowed: bool, presigned: bool = False) -> None:
        key = (principal, call.action, call.resource, allowed, presigned)
        if key in self._seen:
            return
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            self._write(
                {
                    "principal": principal,
                    "operation": operation,
                    "action": call.action,
                    "resource": call.resource,
                    "allowed": allowed,
                    "presigned": presigned,
                }
            )

    def _write(self, record: dict[str, Any]) -> None:
        if self._file:
            self._file.write(json.dumps(record, sort_keys=True) + "\n")

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


def _denied(principal: str, call: IamCall, signing_name: str, operation: str) -> ClientError:
    """The error AWS answers a call no identity-based policy allows (S3 says it differently)."""
    if signing_name == "s3":
        error = {"Code": "AccessDenied", "Message": "Access Denied"}
        status = 403
    else:
        error = {
            "Code": "AccessDeniedException",
            "Message": (
                f"User: arn:aws:sts::{Targets().account}:assumed-role/{principal}Role/{principal} is not authorized "
                f"to perform: {call.action} on resource: {call.resource} because no identity-based policy allows "
                f"the {call.action} action"
            ),
        }
        status = 400
    response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


class AccessControl:
    """The principals' keys and policies, and the check every botocore call of the process goes through."""

    def __init__(self, policies: dict[str, list[Statement]], targets: Targets, log: CallLog) -> None:
        self.targets = targets
        self.log = log
        self.policies = {principal: Policy(principal, statements) for principal, statements in policies.items()}
        # Key ids name their principal (readable in moto's errors and in presigned URLs); the secret is the
        # admin's, so a test can check a URL's signature knowing only the key id it carries.
        self.keys: dict[str, tuple[str, str]] = {
            principal: (f"AKIALOCAL{principal.upper()}", ADMIN_SECRET_ACCESS_KEY) for principal in policies
        }
        self._by_key = {key: principal for principal, (key, _) in self.keys.items()}
        self._engine_roles: list[str] = []
        log.policies(policies)

    def assign_engine_key(self, roles: list[str]) -> None:
        """moto's Step Functions engine signs every state machine's calls with one fixed key: it becomes the
        key of ``roles`` (the state machines' roles). Which state machine made a call is not known here, so a
        call is the call of the first of them whose policy grants it, and refused when none does."""
        self._engine_roles = list(roles)
        self._by_key = {key: name for name, (key, _) in self.keys.items()}
        self._by_key[ENGINE_ACCESS_KEY_ID] = ENGINE_PRINCIPAL

    def _principal_for(self, principal: str, calls: list[IamCall]) -> str:
        if principal != ENGINE_PRINCIPAL:
            return principal
        for role in self._engine_roles:
            if all(self.policies[role].allows(call.action, call.resource) for call in calls):
                return role
        return self._engine_roles[0]

    def current_keys(self) -> tuple[str, str]:
        function = CURRENT_FUNCTION.get()
        if function is not None and function in self.keys:
            return self.keys[function]
        return ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

    def principal_of(self, access_key_id: str | None) -> str | None:
        return self._by_key.get(access_key_id or "")

    def check(self, access_key_id: str | None, signing_name: str, operation: str, params: dict[str, Any]) -> None:
        """Record the call; raise AWS's access-denied error when the signer's policy does not allow it."""
        principal = self.principal_of(access_key_id)
        if principal is None:  # the admin, or a client with keys of its own: not a function of the template
            return
        calls = list(iam_calls(signing_name, operation, params, self.targets))
        principal = self._principal_for(principal, calls)
        policy = self.policies[principal]
        refused = None
        for call in calls:
            allowed = policy.allows(call.action, call.resource)
            self.log.call(principal, operation, call, allowed)
            if not allowed and refused is None:
                refused = call
        if refused is not None:
            raise _denied(principal, refused, signing_name, operation)

    def presigned(self, access_key_id: str | None, signing_name: str, operation: str, params: dict[str, Any]) -> bool:
        """Record a presigned URL's call. Signing needs no permission; the request made with the URL later
        does (moto's S3 asks `presigned_allowed` then), so nothing is refused here."""
        principal = self.principal_of(access_key_id)
        if principal is None:
            return True
        calls = list(iam_calls(signing_name, operation, params, self.targets))
        principal = self._principal_for(principal, calls)
        allowed = True
        for call in calls:
            granted = self.policies[principal].allows(call.action, call.resource)
            self.log.call(principal, operation, call, granted, presigned=True)
            allowed = allowed and granted
        return allowed

    def presigned_allowed(self, access_key_id: str, method: str, resource: str) -> bool:
        """Whether a request made with a presigned S3 URL of ``access_key_id``'s is allowed."""
        principal = self.principal_of(access_key_id)
        if principal is None:
            return True  # not a principal of the template: moto serves it unchecked, as any other request
        action = _PRESIGNED_ACTIONS.get(method.upper(), f"s3:{method.title()}")
        roles = self._engine_roles if principal == ENGINE_PRINCIPAL else [principal]
        return any(self.policies[role].allows(action, resource) for role in roles)


_PRESIGNED_ACTIONS = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject", "DELETE": "s3:DeleteObject"}


# Process-wide patches (the local stack's process only: the layer never sees them) -----------------------


class _PerFunction:
    """A ``functools.cache``'d builder of the layer, built once per function rather than once per process.

    In AWS each function's sandbox builds its own collaborators, reading its own secrets with its own role.
    Here the layer is imported once for every function: the first function to build the provider client
    would read the provider key for all the others, and a function lacking that grant would never show it.
    """

    def __init__(self, cached: Any) -> None:
        functools.update_wrapper(self, cached)
        self._cached = cached
        self._built: dict[tuple[Any, ...], Any] = {}

    def __call__(self, *args: Any) -> Any:
        key = (CURRENT_FUNCTION.get(), *args)
        if key not in self._built:
            self._built.setdefault(key, self._cached.__wrapped__(*args))  # races build twice, keep one
        return self._built[key]

    def cache_clear(self) -> None:
        self._built.clear()
        self._cached.cache_clear()


def _per_function_caches() -> Callable[[], None]:
    """The layer's composition root and Powertools' parameter cache, per function (see `_PerFunction`);
    returns what makes them per process again."""
    from videotasks import wiring
    from videotasks.adapters import powertools_internals

    for name, value in list(vars(wiring).items()):
        if hasattr(value, "cache_clear") and getattr(value, "__module__", "") == wiring.__name__:
            setattr(wiring, name, _PerFunction(value))
    shared_parameter_cache = powertools_internals.key_parameter_cache_by(CURRENT_FUNCTION.get)

    def per_process() -> None:
        shared_parameter_cache()
        for name, value in list(vars(wiring).items()):
            if isinstance(value, _PerFunction):
                setattr(wiring, name, value._cached)

    return per_process


_installed: AccessControl | None = None
_undo: list[Callable[[], None]] = []


def _check_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> None:
    if _installed is not None:
        signing_name = client.meta.service_model.signing_name
        _installed.check(botocore_internals.signing_access_key(client), signing_name, operation_name, api_params)


def _check_presign(client: Any, operation_name: str, params: dict[str, Any]) -> None:
    if _installed is not None:
        signing_name = client.meta.service_model.signing_name
        _installed.presigned(botocore_internals.signing_access_key(client), signing_name, operation_name, params)


def install(control: AccessControl) -> None:
    """Sign every request of this process as the running invocation's function, and check it first."""
    global _installed
    _installed = control
    if _undo:
        return
    original_submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # A Lambda sandbox's threads all hold the role's credentials: a pool started by a handler keeps its
        # function (the broadcaster posts to connections from one).
        return original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    def restore_submit() -> None:
        concurrent.futures.ThreadPoolExecutor.submit = original_submit  # type: ignore[method-assign]

    _undo.append(_per_function_caches())
    _undo.append(botocore_internals.sessions_sign_with(_running_function_keys, method="local-iam"))
    _undo.append(botocore_internals.before_each_call(_check_call))
    _undo.append(botocore_internals.before_each_presign(_check_presign))
    concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
    _undo.append(restore_submit)


def _running_function_keys() -> tuple[str, str]:
    return _installed.current_keys() if _installed else (ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY)


def uninstall() -> None:
    global _installed
    _installed = None
    while _undo:
        _undo.pop()()


# The local stack's entry points ----------------------------------------------------------------------------

# JSON {principal: [statement, …]}: statements added to those principals' grants, as the template writes them
# (tests take a grant away with a Deny, or add a missing one with an Allow).
AMEND_VARIABLE = "LOCAL_IAM_AMEND"


def _targets(template: dict[str, Any], resolver: Resolver) -> Targets:
    secret_arns = {}
    for logical_id in resources(template, "AWS::SecretsManager::Secret"):
        arn = str(resolver.physical[logical_id])
        secret_arns[arn.split(":secret:", 1)[-1].rsplit("-", 1)[0]] = arn  # moto: <name>-<6 random chars>
    api = websocket_api(template)
    if api is None:
        return Targets(secret_arns=secret_arns)
    return Targets(
        secret_arns=secret_arns,
        websocket_api=str(resolver.ref(api.logical_id)),
        websocket_stage=str(resolver.resolve(api.stage) or "*"),
    )


def enforce(template: dict[str, Any], resolver: Resolver) -> AccessControl:
    """Give every principal of the template its identity in moto, switch moto's checks on, and make this
    process sign and check every AWS call as the running function. Call once the resources exist (their set-up
    runs unchecked, as CloudFormation's does) and before any function runs."""
    from local import moto_seam

    transformed = cached_transformed_template()
    policies = principals(transformed, resolver)
    if os.environ.get(AMEND_VARIABLE):
        policies = amend(policies, json.loads(os.environ[AMEND_VARIABLE]), resolver)
    log_path = os.environ.get(CALL_LOG_VARIABLE)
    control = AccessControl(policies, _targets(template, resolver), CallLog(Path(log_path) if log_path else None))
    engine_roles = sorted(set(state_machine_roles(transformed).values()))
    for principal, statements in policies.items():
        access_key_id, secret_access_key = control.keys[principal]
        moto_seam.create_identity(principal, moto_policy(statements), access_key_id, secret_access_key)
    if engine_roles:
        control.assign_engine_key(engine_roles)
        union = [statement for role in engine_roles for statement in policies[role]]
        moto_seam.create_identity(ENGINE_PRINCIPAL, moto_policy(union), ENGINE_ACCESS_KEY_ID, ENGINE_SECRET_ACCESS_KEY)
    moto_seam.enable_access_control({key for key, _ in control.keys.values()}, control.presigned_allowed)
    install(control)
    return control


def stop(control: AccessControl | None) -> None:
    from local import moto_seam

    uninstall()
    moto_seam.disable_access_control()
    if control is not None:
        control.log.close()
