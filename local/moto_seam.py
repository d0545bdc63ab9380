"""The one place that leans on moto internals: the local stack's, and the tests' (pinned with ``==`` in
requirements-dev.txt, `PIN`; ``tests/static/test_library_internals.py`` fails, naming that pin, when an upgrade
moves anything listed in `relied_on`).

moto without Docker has a "simple" Lambda backend that echoes instead of running code. Its Step
Functions engine calls that backend's ``invoke``; we replace it so the engine runs our handlers
in this process, with Lambda's error contract (``X-Amz-Function-Error`` + errorType/errorMessage),
which is what the ASL's Retry and Catch match on. ``tests/integration/test_moto_seam.py`` fails
loudly if a moto upgrade moves this seam.

moto's DynamoDB is not safe under concurrent requests, which the local stack makes all the time (the API,
the workflow steps and the stream pump run on threads of one moto server): ``transact_write_items`` takes
a deep copy of every table it touches and puts the copies back when any of its conditions fails, undoing
whatever other requests wrote meanwhile (a cancel, a completion, a counter), and its condition checks and
writes interleave with other writers. DynamoDB itself runs each request atomically, so the seam does too:
DynamoDB and DynamoDB Streams requests take one lock, one request at a time.

One at a time, but not more forgiving than DynamoDB: DynamoDB does not queue two transactions on one item,
it cancels one of them (``TransactionCanceledException``, reason ``TransactionConflict`` for that item and
``None`` for the others), and it refuses a PutItem/UpdateItem/DeleteItem on an item a transaction holds
(``TransactionConflictException``). So a transaction's items count as held from the moment its request
arrives (before it waits for the lock) until it ends, and a request that meets a held item is refused as
DynamoDB refuses it. ``LOCAL_DYNAMODB_CONFLICT_RATE`` cancels that share of the other transactions the
same way, so the code's handling of conflicts runs even when requests happen not to overlap.

moto also keeps every model instance it ever made (``instances_tracked``, for its dashboard), deep copies
included: each transaction's snapshot of the tables, stream records and all, stayed in memory for good (a
few hundred tasks grew the stack by gigabytes). The seam stops that record for DynamoDB's models.

And that snapshot costs a deep copy of every table the transaction touches, every item and stream record
of it, under the lock: the local stack slowed down with every task it ever ran. While a transaction runs,
the seam sets aside what it cannot touch (every item it does not name, and the stream records already
written), so moto copies, and on failure puts back, only the rest; then it joins both again.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.model_instances import model_data
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, dynamodbstreams_backends
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from local.lambdas import FunctionRegistry

PIN = ("requirements-dev.txt", "moto")  # (requirements file, distribution)

_original_invoke = LambdaSimpleBackend.invoke
_DYNAMODB_LOCK = threading.RLock()
_SERIALISED = (DynamoHandler, DynamoDBStreamsHandler)
# Each class's own call_action, or None where it inherits one (put back by deleting ours).
_original_actions: dict[type, Any] = {handler: handler.__dict__.get("call_action") for handler in _SERIALISED}


_UNTRACKED_SERVICES = ("dynamodb", "dynamodbstreams")


class _Forgetful(list[Any]):
    """moto's per-model record of every instance, keeping none."""

    def append(self, instance: Any) -> None:
        pass


def _track_instances(keep: bool) -> None:
    for service in _UNTRACKED_SERVICES:
        for model in model_data[service].values():
            model.instances_tracked = [] if keep else _Forgetful()  # type: ignore[attr-defined]


_original_transact = DynamoDBBackend.transact_write_items


ItemKey = tuple[DynamoType, DynamoType | None]  # an item's hash key and range key (None: the table has none)


def _item_keys(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> dict[str, set[ItemKey]]:
    """The keys of the items each table has in the transaction, as moto keys its items."""
    touched: dict[str, set[ItemKey]] = defaultdict(set)
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables[operation["TableName"]]
            key = operation.get("Key") or operation["Item"]
            sort = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            touched[table.name].add((DynamoType(key[table.hash_key_attr]), sort))
    return touched


@contextlib.contextmanager
def _only_these_in_view(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Iterator[None]:
    """Set aside every item the transaction does not name and every stream record already written; join them
    again afterwards with whatever the transaction's items are then (moto's restored copies after a failure).
    Items, not partitions: one user's partition of the stats table holds an item per task counted, and a
    copy of it per transaction made counting O(tasks)."""
    try:
        touched = _item_keys(backend, transact_items)
    except (KeyError, TypeError, AttributeError):  # a malformed request: moto answers it, untouched
        yield
        return
    aside = {}
    for name, keys in touched.items():
        table = backend.tables[name]
        items, shard = table.items, table.stream_shard
        view: dict[Any, Any] = defaultdict(dict)
        for partition, sort in keys:
            if sort is None:
                if partition in items:
                    view[partition] = items[partition]
            elif sort in items.get(partition, {}):
                view[partition][sort] = items[partition][sort]
        table.items = view
        records = shard.items if shard is not None else []
        if shard is not None:  # new records keep their sequence numbers: they follow the ones set aside
            shard.items, shard.starting_sequence_number = [], shard.starting_sequence_number + len(records)
        aside[name] = (items, records, keys)
    originals = {name: backend.tables[name] for name in aside}
    try:
        yield
    finally:
        for name, (items, records, keys) in aside.items():
            table = _keep_table_object(backend, originals[name])
            _put_back(items, table.items, keys)
            table.items = items
            shard = table.stream_shard
            if shard is not None:
                shard.items = records + shard.items
                shard.starting_sequence_number -= len(records)


def _put_back(items: dict[Any, Any], seen: dict[Any, Any], keys: set[ItemKey]) -> None:
    """The transaction's items as they are now (``seen``) back among the others (``items``)."""
    for partition, sort in keys:
        if sort is None:
            items.pop(partition, None)
            if partition in seen:
                items[partition] = seen[partition]
            continue
        held = items.get(partition)
        if held is not None:
            held.pop(sort, None)
        now = seen.get(partition, {}).get(sort)
        if now is not None:
            items.setdefault(partition, {})[sort] = now
        elif held is not None and not held:
            del items[partition]


def _keep_table_object(backend: DynamoDBBackend, original: Table) -> Table:
    """The table object the transaction started with, holding what the tables hold now.

    A failed transaction makes moto put back its copy of the table, stream shard included. A shard iterator
    handed out before (the stream pump takes one, then reads it) still points at the old shard, which holds
    the records of the writes just undone: a reader would see a task that never was, and its place in the
    stream would then skip the next real record, which takes the same sequence number. So the copy's state
    goes back into the original objects, and the iterators keep reading the one live shard."""
    restored = backend.tables[original.name]
    if restored is original:
        return original
    original.items = restored.items
    if original.stream_shard is not None and restored.stream_shard is not None:
        original.stream_shard.items = restored.stream_shard.items
        original.stream_shard.starting_sequence_number = restored.stream_shard.starting_sequence_number
    backend.tables[original.name] = original
    return original


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _DYNAMODB_LOCK, _only_these_in_view(self, transact_items):
        _original_transact(self, transact_items)


def _one_at_a_time(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(action)
    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return action(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    return call_action


# Transaction conflicts ----------------------------------------------------------------------------------
ItemId = tuple[str, str]  # a table's name and the item's key attributes, as JSON
_SINGLE_WRITES = {"PutItem": "put_item", "UpdateItem": "update_item", "DeleteItem": "delete_item"}
ONGOING = "Transaction is ongoing for the item"  # DynamoDB's message for both kinds of conflict


class _Conflicts:
    """The items held by transactions under way, and the share of other transactions cancelled anyway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter[ItemId] = Counter()
        self.rate = 0.0
        self.chance: Callable[[], float] = random.random

    def hold(self, items: list[ItemId | None]) -> int | None:
        """Hold the transaction's items; or, when it must be cancelled, the index of the item in conflict."""
        with self._lock:
            for index, item in enumerate(items):
                if item is not None and self._held[item]:
                    return index
            if self.rate and self.chance() < self.rate:
                return 0
            self._held.update(item for item in items if item is not None)
            return None

    def release(self, items: list[ItemId | None]) -> None:
        with self._lock:
            self._held.subtract(item for item in items if item is not None)
            self._held = +self._held  # forget the items no longer held

    def is_held(self, item: ItemId | None) -> bool:
        with self._lock:
            return item is not None and self._held[item] > 0

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())


_CONFLICTS = _Conflicts()


def inject_conflicts(rate: float, chance: Callable[[], float] = random.random) -> None:
    """Cancel ``rate`` (0..1) of the transactions that meet no other one, as if one had met them:
    ``chance()`` below ``rate`` cancels (tests pass a seeded or scripted one)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"LOCAL_DYNAMODB_CONFLICT_RATE must be between 0 and 1, not {rate}")
    _CONFLICTS.rate, _CONFLICTS.chance = rate, chance


def items_held() -> int:
    """How many items transactions under way hold right now (tests wait on it)."""
    return _CONFLICTS.held()


def _item_id(backend: DynamoDBBackend, table_name: str, attributes: dict[str, Any]) -> ItemId | None:
    """Which item a request names (its key, or the whole item of a put); None when moto will refuse it."""
    table = backend.tables.get(table_name) or backend.tables.get(table_name.rpartition("/")[2])
    if table is None:
        return None
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not all(name in attributes for name in names):
        return None
    return table.name, json.dumps({name: attributes[name] for name in names}, sort_keys=True, default=str)


def _transaction_items(handler: DynamoHandler) -> list[ItemId | None]:
    items: list[ItemId | None] = []
    for entry in getattr(handler, "params", {}).get("TransactItems") or []:
        for operation in entry.values():
            named = operation.get("Key") or operation.get("Item") or {}
            items.append(_item_id(handler.dynamodb_backend, str(operation.get("TableName", "")), named))
    return items


def _refuse(handler: DynamoHandler, action: Callable[[Any], Any], method: str, error: Exception) -> Any:
    """Answer with ``error`` exactly as moto answers its own errors (after its auth checks, like AWS)."""

    def refused() -> Any:
        raise error

    setattr(handler, method, refused)
    return action(handler)


# Stream readers waiting for work (the stack's stream pumps): told after every write request, so an idle
# stack polls its streams only now and then instead of several times a second per event source mapping.
_WRITE_REQUESTS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_write_listeners: list[Callable[[], None]] = []


def on_dynamodb_write(listener: Callable[[], None]) -> None:
    """Call ``listener`` (cheap, non-blocking: e.g. an Event's ``set``) after every DynamoDB write request,
    answered or refused, until ``uninstall``."""
    _write_listeners.append(listener)


def _as_strict_as_dynamodb(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(action)
    def call_action(self: DynamoHandler) -> Any:
        try:
            return _strictly(self, action)
        finally:
            if self._get_action() in _WRITE_REQUESTS:
                for listener in list(_write_listeners):
                    listener()

    call_action.serialised = True  # type: ignore[attr-defined]
    return call_action


def _strictly(self: DynamoHandler, action: Callable[[Any], Any]) -> Any:
    """One request, refused as DynamoDB refuses it when it meets an item a transaction holds."""
    operation = self._get_action()
    if operation == "TransactWriteItems":
        items = _transaction_items(self)
        conflict = _CONFLICTS.hold(items)
        if conflict is not None:
            reasons = [
                ("TransactionConflict", ONGOING, None) if index == conflict else (None, None, None)
                for index in range(len(items))
            ]
            return _refuse(self, action, "transact_write_items", TransactionCanceledException(reasons))
        try:
            with _DYNAMODB_LOCK:
                return action(self)
        finally:
            _CONFLICTS.release(items)
    if operation in _SINGLE_WRITES:
        params = getattr(self, "params", {})
        named = params.get("Key") or params.get("Item") or {}
        if _CONFLICTS.is_held(_item_id(self.dynamodb_backend, str(params.get("TableName", "")), named)):
            error = DynamodbException(ERROR_TYPE_PREFIX + "TransactionConflictException", ONGOING)
            return _refuse(self, action, _SINGLE_WRITES[operation], error)
    with _DYNAMODB_LOCK:
        return action(self)


def install(
    registry: FunctionRegistry, *, conflict_rate: float = 0.0, chance: Callable[[], float] = random.random
) -> None:
    """Run our handlers for moto's Lambda and make its DynamoDB as strict as DynamoDB; ``conflict_rate``
    (0..1) of the transactions that meet no other one are cancelled with ``TransactionConflict`` anyway."""

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        payload, errored = registry.invoke_json(function_name, body)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    inject_conflicts(conflict_rate, chance)
    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    for handler in _SERIALISED:
        if not getattr(handler.call_action, "serialised", False):
            strict = _as_strict_as_dynamodb if handler is DynamoHandler else _one_at_a_time
            handler.call_action = strict(handler.call_action)  # type: ignore[method-assign]
    _track_instances(keep=False)
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    _write_listeners.clear()
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
    inject_conflicts(0.0)
    for handler, action in _original_actions.items():
        if action is None:
            if "call_action" in handler.__dict__:
                delattr(handler, "call_action")
        else:
            handler.call_action = action  # type: ignore[method-assign]
    _track_instances(keep=True)
    DynamoDBBackend.transact_write_items = _original_transact  # type: ignore[method-assign]


MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def shard_iterators(stream_arn: str) -> dict[str, Any]:
    """The DynamoDB Streams shard iterators moto has handed out in the stream's account and region
    (``arn:aws:dynamodb:<region>:<account>:…``), by iterator."""
    _, _, _, region, account, _ = stream_arn.split(":", 5)
    return dynamodbstreams_backends[account][region].shard_iterators


def forget_shard_iterators(stream_arn: str, *iterators: str | None) -> None:
    """moto keeps every DynamoDB Streams shard iterator it ever handed out; the local stream pump polls a
    few times a second, so it forgets the ones it has used."""
    known = shard_iterators(stream_arn)
    for iterator in iterators:
        if iterator:
            known.pop(iterator, None)


def stored_tables() -> list[Table]:
    """Every DynamoDB table moto's backends hold, in any account and region."""
    return [
        table
        for regions in dynamodb_backends.values()
        for backend in regions.values()
        for table in backend.tables.values()
    ]


def table_objects_alive() -> int:
    """How many moto table objects are still referenced from anywhere (copies included), after a collection."""
    gc.collect()
    return sum(isinstance(thing, Table) for thing in gc.get_objects())


@contextlib.contextmanager
def one_in_process_request_at_a_time() -> Iterator[None]:
    """moto's in-process mock (``mock_aws``) answers one request at a time meanwhile, as DynamoDB applies each
    request atomically: its backends are not thread-safe, and a conditional write's check and its write could
    interleave with another thread's. Our code still runs concurrently between requests."""
    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


# IAM-like access control ------------------------------------------------------------------------------
# moto authenticates (SigV4 against the key's secret) and authorises requests once
# ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` requests have passed; it reads the setting at every request, so
# the stack creates its resources first and then switches checking on (``local.iam`` says what moto checks).


def create_identity(user_name: str, policy: dict[str, Any], access_key_id: str, secret_access_key: str) -> None:
    """An IAM user in moto with ``policy`` inline and an access key of our choosing (moto picks random ones;
    the key moto's own Step Functions engine signs with is a fixed string)."""
    import json

    from moto.iam.models import iam_backends

    from local.template import ACCOUNT

    backend = iam_backends[ACCOUNT]["aws"]
    backend.create_user(region_name="us-east-1", user_name=user_name)
    backend.put_user_policy(user_name, "granted", json.dumps(policy))
    key = backend.create_access_key(user_name)
    del backend.access_keys[key.physical_resource_id]
    key.access_key_id, key.secret_access_key = access_key_id, secret_access_key
    backend.access_keys[key.physical_resource_id] = key


_original_authorize = None
PresignedCheck = Callable[[str, str, str], bool]  # (access key id, HTTP method, S3 resource ARN) -> allowed


def _signing_key(request: Any) -> str | None:
    """The access key id a request was signed with: from its Authorization header, or a presigned URL's
    ``X-Amz-Credential``."""
    authorization = request.headers.get("Authorization") or ""
    if "Credential=" in authorization:
        return str(authorization.split("Credential=", 1)[1].split("/", 1)[0])
    credential = request.querystring.get("X-Amz-Credential") if hasattr(request, "querystring") else None
    if credential:
        return str(credential[0] if isinstance(credential, list) else credential).split("/", 1)[0]
    return None


def enable_access_control(checked_keys: set[str], presigned_allowed: PresignedCheck) -> None:
    """From now on a request signed with one of ``checked_keys`` must carry a valid signature and be allowed by
    its identity's policies. Requests signed with any other key are served unchecked, as before: the stack's
    own set-up and tools pointed at the moto endpoint keep working with whatever credentials they have.

    moto 5.2.5 cannot check a presigned S3 URL (it reads the ``Authorization`` header, which a presigned GET
    does not send, and answers 500): such requests are authorised by ``presigned_allowed`` with the signer's
    key, the method and the object's ARN instead (the signature is not verified), and refused as S3 does."""
    global _original_authorize
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.exceptions import S3AccessDeniedError

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    _original_authorize = original

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        key = _signing_key(self)
        if key not in checked_keys:
            return None
        if "Authorization" not in self.headers:  # a presigned S3 URL (the only kind moto serves)
            if not presigned_allowed(key, str(self.method), resource):
                raise S3AccessDeniedError()
            return None
        return original(self, iam_request_cls, resource)  # type: ignore[no-any-return]

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
    ActionAuthenticatorMixin.request_count = 0
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


def disable_access_control() -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    if _original_authorize is not None:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = _original_authorize  # type: ignore[method-assign]


def relied_on() -> list[tuple[object, str, tuple[str, ...] | None]]:
    """Each (owner, attribute, leading parameter names or None) this module uses, for the pin's test."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.models import IAMBackend

    from local.template import ACCOUNT

    table = Table(
        "Pin",
        account_id=ACCOUNT,
        region="us-east-1",
        schema=[{"AttributeName": "id", "KeyType": "HASH"}],
        attr=[{"AttributeName": "id", "AttributeType": "S"}],
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return [
        (LambdaSimpleBackend, "invoke", ("self", "function_name", "qualifier", "body", "headers", "response_headers")),
        (DynamoHandler, "call_action", ("self",)),
        (DynamoHandler, "_get_action", ("self",)),
        (DynamoHandler, "dynamodb_backend", None),
        (DynamoDBStreamsHandler, "call_action", ("self",)),
        (DynamoDBBackend, "transact_write_items", ("self", "transact_items")),
        (DynamoDBBackend("us-east-1", ACCOUNT), "tables", None),
        (TransactionCanceledException, "__init__", ("self", "errors")),
        (DynamodbException, "__init__", ("self", "error_type", "message")),
        *(
            (model, "instances_tracked", None)
            for service in _UNTRACKED_SERVICES
            for model in model_data[service].values()
        ),
        (table, "items", None),
        (table, "hash_key_attr", None),
        (table, "range_key_attr", None),
        (table, "stream_shard", None),
        (table.stream_shard, "items", None),
        (table.stream_shard, "starting_sequence_number", None),
        (DynamoDBStreamsBackend("us-east-1", ACCOUNT), "shard_iterators", None),
        (BotocoreStubber, "process_request", ("self", "request")),
        (ActionAuthenticatorMixin, "_authenticate_and_authorize_action", ("self", "iam_request_cls", "resource")),
        (ActionAuthenticatorMixin, "request_count", None),
        (settings, "INITIAL_NO_AUTH_ACTION_COUNT", None),
        (IAMBackend, "create_user", ("self", "region_name", "user_name")),
        (IAMBackend, "put_user_policy", ("self", "user_name", "policy_name", "policy_json")),
        (IAMBackend, "create_access_key", ("self", "user_name")),
        (IAMBackend("global", ACCOUNT), "access_keys", None),
    ]
