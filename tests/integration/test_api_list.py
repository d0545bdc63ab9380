"""GET /api/video/tasks: newest first, the caller's tasks only, signed cursors bound to the caller and
the filter, filters that still fill a page, and the old clients' page + pageSize."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from bench.history import ReadCounter
from tests.integration.api_harness import OTHER_USER, USER, Api, list_all
from videotasks.adapters.store.items import task_item
from videotasks.domain.ids import new_video_id
from videotasks.domain.models import Task, TaskStatus, TaskType, iso, utc_now

pytest_plugins = ["tests.integration.api_fixtures"]

# A repeating mix of states and types, so every filter matches some tasks and skips others.
MIX = [
    (TaskStatus.COMPLETED, TaskType.VIDEO),
    (TaskStatus.QUEUED, TaskType.VIDEO),
    (TaskStatus.FAILED, TaskType.IMAGE),
    (TaskStatus.COMPLETED, TaskType.IMAGE),
    (TaskStatus.PROCESSING, TaskType.VIDEO),
    (TaskStatus.CANCELLED, TaskType.VIDEO),
    (TaskStatus.COMPLETED, TaskType.VIDEO),
]


@pytest.fixture
def make_tasks(aws_stack, stored_task):
    """``make_tasks(n, user, kinds, offset, counted)``: n tasks one second apart, the first the newest,
    their states and types taken in turn from ``kinds``; returned newest first.

    ``counted=True`` goes through the repository (created, walked through transitions and counted, as
    the workflow does); the default writes the items as the repository would have left them, which is
    25 times faster in moto, but the counters behind ``total`` stay at zero."""
    start = utc_now()

    def make(
        count: int,
        user: str = USER,
        kinds=((TaskStatus.QUEUED, TaskType.VIDEO),),
        offset: int = 0,
        counted: bool = False,
    ) -> list[Task]:
        tasks = []
        for index in range(count):
            status, kind = kinds[index % len(kinds)]
            created = iso(start - timedelta(seconds=offset + index))
            fields = {"type": kind, "createdAt": created, "updatedAt": created}
            tasks.append(
                stored_task(user, status=status, **fields)
                if counted
                else Task(
                    videoId=new_video_id(),
                    userId=user,
                    status=status,
                    prompt=f"task {index}",
                    model="sora-2",
                    externalTaskId=f"ext_{index}",
                    **fields,
                )
            )
        if not counted:
            with aws_stack.table("TASKS_TABLE").batch_writer() as batch:
                for task in tasks:
                    batch.put_item(Item=task_item(task))
        return tasks

    return make


def _ids(items) -> list[str]:
    return [item["videoId"] if isinstance(item, dict) else item.videoId for item in items]


def test_list_is_the_callers_tasks_newest_first(api: Api, make_tasks):
    mine = make_tasks(3, counted=True)
    make_tasks(2, user=OTHER_USER, offset=10, counted=True)

    reply = api.list()

    assert reply.status == 200, reply.body
    page = reply.data
    assert _ids(page["items"]) == _ids(mine)
    assert page["total"] == 3
    assert page["hasMore"] is False
    assert page["nextCursor"] is None


def test_list_items_are_the_public_task_shape(api: Api, steps):
    video_id = api.create_id()
    steps.complete(video_id)

    [item] = api.list().data["items"]

    assert item == api.get(video_id).data | {"videoUrl": item["videoUrl"]}
    assert item["videoUrl"]
    assert "userId" not in item and "executionArn" not in item


def test_list_of_a_user_without_tasks_is_empty(api: Api, make_tasks):
    make_tasks(2, user=OTHER_USER, counted=True)

    page = api.list().data

    assert (page["items"], page["total"], page["hasMore"], page["nextCursor"]) == ([], 0, False, None)


def test_cursor_paging_returns_every_task_once_newest_first(api: Api, make_tasks):
    tasks = make_tasks(11, counted=True)

    items, pages = list_all(api, limit=4)

    assert _ids(items) == _ids(tasks)
    assert [len(page["items"]) for page in pages] == [4, 4, 3]
    assert [page["hasMore"] for page in pages] == [True, True, False]
    assert {page["total"] for page in pages} == {11}


def test_a_full_last_page_says_there_is_no_more(api: Api, make_tasks):
    make_tasks(4)

    page = api.list(limit=4).data

    assert len(page["items"]) == 4
    assert (page["hasMore"], page["nextCursor"]) == (False, None)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ({"status": "COMPLETED"}, lambda task: task.status is TaskStatus.COMPLETED),
        ({"status": "in_progress"}, lambda task: task.status is TaskStatus.PROCESSING),  # the old backend's wire name
        ({"type": "IMAGE"}, lambda task: task.type is TaskType.IMAGE),
        ({"mediaType": "image"}, lambda task: task.type is TaskType.IMAGE),  # the old frontend's name
        (
            {"status": "completed", "type": "video"},
            lambda task: (task.status, task.type) == (TaskStatus.COMPLETED, TaskType.VIDEO),
        ),
    ],
    ids=["status", "status-alias", "type", "type-alias", "status-and-type"],
)
def test_filtered_paging_across_several_pages_returns_exactly_the_matches(api: Api, make_tasks, query, matches):
    tasks = make_tasks(35, kinds=MIX)
    make_tasks(7, user=OTHER_USER, kinds=MIX, offset=100)
    expected = [task for task in tasks if matches(task)]

    items, pages = list_all(api, limit=2, **query)

    assert _ids(items) == _ids(expected)
    assert len(pages) >= 3
    assert all(len(page["items"]) == 2 for page in pages[:-1])


@pytest.mark.parametrize(
    ("query", "total"),
    [({}, 7), ({"status": "COMPLETED"}, 3), ({"type": "IMAGE"}, 2), ({"status": "COMPLETED", "type": "IMAGE"}, 1)],
)
def test_total_counts_the_callers_tasks_that_match_the_filter(api: Api, make_tasks, query, total):
    make_tasks(7, kinds=MIX, counted=True)
    make_tasks(3, user=OTHER_USER, kinds=MIX, offset=100, counted=True)

    assert api.list(limit=1, **query).data["total"] == total


def test_a_filtered_page_is_full_when_matches_lie_beyond_many_non_matching_tasks(api: Api, make_tasks):
    make_tasks(120)  # the newest 120 are QUEUED
    completed = make_tasks(5, kinds=[(TaskStatus.COMPLETED, TaskType.VIDEO)], offset=1000)

    page = api.list(status="COMPLETED", limit=3).data

    assert _ids(page["items"]) == _ids(completed[:3])
    assert page["hasMore"] is True
    rest = api.list(status="COMPLETED", limit=3, cursor=page["nextCursor"]).data
    assert _ids(rest["items"]) == _ids(completed[3:])
    assert rest["hasMore"] is False


FILTERS = [
    {"status": status, "type": kind}
    for status in [None, *(state.value for state in TaskStatus)]
    for kind in [None, "VIDEO", "IMAGE"]
]


@pytest.mark.parametrize("query", FILTERS, ids=lambda query: f"{query['status']}-{query['type']}")
def test_every_filter_walks_exactly_its_matches_newest_first_with_an_exact_has_more(api: Api, make_tasks, query):
    tasks = make_tasks(40, kinds=MIX)
    make_tasks(7, user=OTHER_USER, kinds=MIX, offset=100)
    sent = {name: value for name, value in query.items() if value}
    expected = [
        task
        for task in tasks
        if (not query["status"] or task.status.value == query["status"])
        and (not query["type"] or task.type.value == query["type"])
    ]

    items, pages = list_all(api, limit=3, **sent)

    assert _ids(items) == _ids(expected)
    assert all(len(page["items"]) == 3 and page["hasMore"] for page in pages[:-1])
    assert pages[-1]["hasMore"] is False and pages[-1]["nextCursor"] is None
    assert len(pages) == max(1, -(-len(expected) // 3))  # no empty page after a last full one


def test_batch_tasks_created_in_the_same_millisecond_are_each_listed_once(api: Api, aws_stack):
    created = iso(utc_now())
    tasks = [
        Task(
            videoId=new_video_id(),
            userId=USER,
            status=TaskStatus.COMPLETED,
            prompt=f"batch {n}",
            model="sora-2",
            createdAt=created,
            updatedAt=created,
        )
        for n in range(7)
    ]

    with aws_stack.table("TASKS_TABLE").batch_writer() as batch:
        for task in tasks:
            batch.put_item(Item=task_item(task))

    for query in ({}, {"status": "COMPLETED"}, {"type": "VIDEO"}):
        items, _ = list_all(api, limit=2, **query)
        assert sorted(_ids(items)) == sorted(_ids(tasks)), query


def test_a_rare_status_among_thousands_reads_only_its_tasks_and_says_there_is_no_more(api: Api, make_tasks):
    processing = make_tasks(2, kinds=[(TaskStatus.PROCESSING, TaskType.VIDEO)])
    make_tasks(1500, kinds=MIX[:4], offset=10)  # no PROCESSING among them
    cancelled = make_tasks(1, kinds=[(TaskStatus.CANCELLED, TaskType.VIDEO)], offset=5000)

    with ReadCounter().installed() as reads:
        page = api.list(status="PROCESSING").data
    with ReadCounter().installed() as oldest:
        last = api.list(status="CANCELLED", limit=1).data

    assert (_ids(page["items"]), page["hasMore"], page["nextCursor"]) == (_ids(processing), False, None)
    assert (_ids(last["items"]), last["hasMore"]) == (_ids(cancelled), False)
    assert reads.items <= 2 + 1 + 2  # its 2 tasks, the totals item, slack
    assert oldest.items <= 1 + 1 + 2


def test_a_dense_filter_reads_about_one_page_whatever_the_history(api: Api, make_tasks):
    make_tasks(1500, kinds=MIX)

    for query in ({"status": "COMPLETED"}, {"type": "VIDEO"}, {}, {"status": "FAILED", "type": "IMAGE"}):
        with ReadCounter().installed() as reads:
            page = api.list(limit=10, **query).data
        assert len(page["items"]) == 10 and page["hasMore"], query
        assert reads.items <= 10 + 1 + 1 + 2 * 5, (query, reads.items)  # page, one beyond, totals, slack


def test_a_task_that_changes_status_while_listed_moves_between_the_filtered_lists(api: Api, steps, make_tasks):
    older = make_tasks(3, kinds=[(TaskStatus.COMPLETED, TaskType.VIDEO)], offset=100, counted=True)
    video_id = api.create_id()
    steps.submit(video_id)
    first = api.list(status="COMPLETED", limit=2).data
    assert _ids(api.list(status="PROCESSING").data["items"]) == [video_id]

    steps.complete(video_id)

    assert api.list(status="PROCESSING").data["items"] == []
    rest = api.list(status="COMPLETED", limit=2, cursor=first["nextCursor"]).data
    assert _ids(first["items"]) + _ids(rest["items"]) == _ids(older)  # the walk under way goes on, older only
    assert _ids(api.list(status="COMPLETED").data["items"]) == [video_id, *_ids(older)]


# -- bad cursors: 400 VALIDATION_ERROR naming ``cursor`` -------------------------------------------------------


def _first_cursor(api: Api, **query) -> str:
    cursor = api.list(limit=1, **query).data["nextCursor"]
    assert cursor
    return str(cursor)


def _forged(cursor: str, **changes) -> str:
    """The cursor with fields of its signed body changed and the old signature kept."""
    body, signature = cursor.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{encoded}.{signature}"


def test_a_cursor_with_an_edited_position_is_refused(api: Api, make_tasks):
    make_tasks(3)
    cursor = _first_cursor(api)

    reply = api.list(limit=1, cursor=_forged(cursor, p={"videoId": "x", "userId": USER, "createdAt": "9"}))

    reply.validation_error("cursor")
    assert reply.fields() == ["cursor"]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda cursor: cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),  # signature edited
        lambda cursor: "x" + cursor,  # body edited
        lambda cursor: cursor.replace(".", ""),  # no signature at all
        lambda cursor: "not-a-cursor",
        lambda cursor: "%%%.###",
        lambda cursor: cursor + ".extra",
    ],
    ids=["signature", "body", "unsigned", "garbage", "not-base64", "extra-part"],
)
def test_a_tampered_cursor_is_a_400_naming_cursor(api: Api, make_tasks, mangle):
    make_tasks(3)

    reply = api.list(limit=1, cursor=mangle(_first_cursor(api)))

    reply.validation_error("cursor")


def test_another_users_cursor_is_refused(api: Api, make_tasks):
    make_tasks(3)
    make_tasks(3, user=OTHER_USER, offset=10)
    theirs = _first_cursor(api.as_user(OTHER_USER))

    reply = api.list(limit=1, cursor=theirs)

    reply.validation_error("cursor")


def test_a_cursor_relabelled_for_another_user_is_refused(api: Api, make_tasks):
    make_tasks(3, user=OTHER_USER)
    theirs = _first_cursor(api.as_user(OTHER_USER))

    api.list(limit=1, cursor=_forged(theirs, u=USER)).validation_error("cursor")


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        ({"status": "QUEUED"}, {}),
        ({}, {"status": "QUEUED"}),
        ({"status": "QUEUED"}, {"status": "COMPLETED"}),
        ({"type": "VIDEO"}, {"status": "QUEUED", "type": "VIDEO"}),
    ],
)
def test_a_cursor_from_another_filter_is_refused(api: Api, make_tasks, made_for, used_with):
    make_tasks(4, kinds=[(TaskStatus.QUEUED, TaskType.VIDEO), (TaskStatus.COMPLETED, TaskType.VIDEO)])
    cursor = _first_cursor(api, **made_for)

    api.list(limit=1, cursor=cursor, **used_with).validation_error("cursor")


def test_a_cursor_is_still_good_with_another_limit(api: Api, make_tasks):
    tasks = make_tasks(5)
    cursor = _first_cursor(api)

    page = api.list(limit=10, cursor=cursor).data

    assert _ids(page["items"]) == _ids(tasks[1:])


# -- query bounds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "DONE"}, "status"),
        ({"type": "AUDIO"}, "type"),
        ({"page": 0}, "page"),
        ({"page": "first"}, "page"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 11, "pageSize": 100}, "page"),  # beyond the offset window: the cursor goes further
        ({"page": 2, "cursor": "abc.def"}, "cursor"),
        ({"cursor": "x" * 2049}, "cursor"),
    ],
)
def test_out_of_bounds_query_is_a_400_naming_the_parameter(api: Api, query, field):
    api.list(**query).validation_error(field)


def test_limit_at_its_bounds_is_accepted(api: Api, make_tasks):
    make_tasks(2)

    assert len(api.list(limit=1).data["items"]) == 1
    assert len(api.list(limit=100).data["items"]) == 2


def test_default_page_is_twenty_tasks(api: Api, make_tasks):
    make_tasks(21)

    page = api.list().data

    assert len(page["items"]) == 20
    assert page["hasMore"] is True


# -- page + pageSize (old clients) ------------------------------------------------------------------------


def test_page_and_page_size_walk_the_tasks_newest_first(api: Api, make_tasks):
    tasks = make_tasks(7, counted=True)

    pages = [api.list(page=number, pageSize=3).data for number in (1, 2, 3, 4)]

    assert [_ids(page["items"]) for page in pages] == [_ids(tasks[0:3]), _ids(tasks[3:6]), _ids(tasks[6:7]), []]
    assert [page["hasMore"] for page in pages] == [True, True, False, False]
    assert {(page["total"], page["totalPages"], page["pageSize"]) for page in pages} == {(7, 3, 3)}
    assert [page["page"] for page in pages] == [1, 2, 3, 4]


def test_page_size_alone_is_the_first_page(api: Api, make_tasks):
    tasks = make_tasks(4)

    page = api.list(pageSize=2).data

    assert _ids(page["items"]) == _ids(tasks[:2])
    assert page["page"] == 1


def test_page_mode_applies_the_filters(api: Api, make_tasks):
    tasks = make_tasks(14, kinds=MIX)
    completed = [task for task in tasks if task.status is TaskStatus.COMPLETED]

    first = api.list(status="COMPLETED", page=1, pageSize=4).data
    second = api.list(status="COMPLETED", page=2, pageSize=4).data

    assert _ids(first["items"]) + _ids(second["items"]) == _ids(completed)
    assert (first["hasMore"], second["hasMore"]) == (True, False)


def test_the_filter_under_both_its_names_is_refused_naming_them(api: Api):
    reply = api.list(type="VIDEO", mediaType="IMAGE")

    assert reply.status == 400
    assert "mediaType" in reply.body["error"]["message"] and "type" in reply.body["error"]["message"]


# -- page mode: hasMore promises a next page with tasks in it ------------------------------------------------


def test_the_last_full_page_says_there_is_no_more(api: Api, make_tasks):
    tasks = make_tasks(6)

    last = api.list(page=2, pageSize=3).data

    assert _ids(last["items"]) == _ids(tasks[3:])
    assert (last["hasMore"], last["nextCursor"]) == (False, None)
    assert api.list(page=3, pageSize=3).data["items"] == []


def test_a_page_before_the_last_says_there_is_more_and_where_the_cursor_goes_on(api: Api, make_tasks):
    tasks = make_tasks(7)

    page = api.list(page=2, pageSize=3).data
    rest = api.list(limit=10, cursor=page["nextCursor"]).data

    assert page["hasMore"] is True
    assert _ids(rest["items"]) == _ids(tasks[6:])


@pytest.fixture
def window_of_ten(monkeypatch):
    """MAX_PAGE_WINDOW as 10, where the query and the service read it, so its edge is reached with few tasks."""
    from videotasks.domain import requests as request_models
    from videotasks.services import tasks as task_service

    monkeypatch.setattr(request_models, "MAX_PAGE_WINDOW", 10)
    monkeypatch.setattr(task_service, "MAX_PAGE_WINDOW", 10)


def test_at_the_window_edge_has_more_is_false_and_the_cursor_goes_on(api: Api, make_tasks, window_of_ten):
    tasks = make_tasks(13)

    edge = api.list(page=2, pageSize=5).data
    beyond = api.list(page=3, pageSize=5)
    rest = api.list(limit=10, cursor=edge["nextCursor"]).data

    assert _ids(edge["items"]) == _ids(tasks[5:10])
    assert edge["hasMore"] is False  # page 3 would be refused: an old client must not be sent there
    beyond.validation_error("page")
    assert _ids(rest["items"]) == _ids(tasks[10:])


def test_at_the_window_edge_with_nothing_beyond_there_is_no_cursor(api: Api, make_tasks, window_of_ten):
    make_tasks(10)

    edge = api.list(page=2, pageSize=5).data

    assert (edge["hasMore"], edge["nextCursor"]) == (False, None)


def test_the_real_window_edge_of_1000_tasks(api: Api, make_tasks):
    tasks = make_tasks(1001)

    edge = api.list(page=10, pageSize=100).data

    assert _ids(edge["items"]) == _ids(tasks[900:1000])
    assert edge["hasMore"] is False
    assert _ids(api.list(limit=5, cursor=edge["nextCursor"]).data["items"]) == _ids(tasks[1000:])


def test_a_filtered_page_beyond_many_others_is_full_and_has_more_is_exact(api: Api, make_tasks):
    make_tasks(60)  # the newest 60 are QUEUED
    completed = make_tasks(4, kinds=[(TaskStatus.COMPLETED, TaskType.VIDEO)], offset=1000)

    first = api.list(status="COMPLETED", page=1, pageSize=2).data
    last = api.list(status="COMPLETED", page=2, pageSize=2).data

    assert (_ids(first["items"]), first["hasMore"]) == (_ids(completed[:2]), True)
    assert (_ids(last["items"]), last["hasMore"], last["nextCursor"]) == (_ids(completed[2:]), False, None)


def test_a_filtered_last_page_before_many_others_says_there_is_no_more(api: Api, make_tasks):
    completed = make_tasks(2, kinds=[(TaskStatus.COMPLETED, TaskType.VIDEO)])
    make_tasks(40, offset=10)  # older, QUEUED: the first read stops among them, its page already full

    page = api.list(status="COMPLETED", page=1, pageSize=2).data

    assert _ids(page["items"]) == _ids(completed)
    assert (page["hasMore"], page["nextCursor"]) == (False, None)
