"""A typed client generated from docs/openapi.json compiles, and code written against it type-checks:
openapi-typescript makes TypeScript types of every path, operation and schema, and tsc (strict) compiles
them with a small program that creates, reads and lists tasks as a frontend would. A document that lost a
success schema, a field, or a status word would break the program; one that became too loose breaks the
``@ts-expect-error`` lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local.openapi_export import DOCUMENT_PATH
from local.template import ROOT

BIN = ROOT / ".judges-npm" / "node_modules" / ".bin"
OPENAPI_TYPESCRIPT = BIN / "openapi-typescript"
TSC = BIN / "tsc"

pytestmark = pytest.mark.skipif(
    not (OPENAPI_TYPESCRIPT.exists() and TSC.exists()),
    reason="no openapi-typescript/tsc: run `make judges-install` (needs npm; `make test` runs it before pytest)",
)

USES = """\
import type { components, paths } from "./api";

type Task = components["schemas"]["Task"];
type Tasks = paths["/api/video/tasks"];
type CreateBody = Tasks["post"]["requestBody"]["content"]["application/json"];
type Created = Tasks["post"]["responses"][201]["content"]["application/json"];
type Replayed = Tasks["post"]["responses"][200]["content"]["application/json"];
type Listed = Tasks["get"]["responses"][200]["content"]["application/json"];
type ListQuery = NonNullable<Tasks["get"]["parameters"]["query"]>;
type Failure = Tasks["post"]["responses"][400]["content"]["application/json"];
type One = paths["/api/video/tasks/{videoId}"]["get"]["responses"][200]["content"]["application/json"];
type Stats = paths["/api/video/stats"]["get"]["responses"][200]["content"]["application/json"];

export const body: CreateBody = { prompt: "a paper boat", seconds: 4, metadata: { scene: 1 } };
export const oldBody: CreateBody = { prompt: "a paper boat", duration: 5, aspectRatio: "16:9", mediaType: "VIDEO" };
export const query: ListQuery = { status: "QUEUED", cursor: "c", page: "1", pageSize: "10" };

export function describe(reply: Created | Replayed | One): string {
  const task: Task = reply.data;
  const done: boolean = task.status === "COMPLETED" || reply.status === "FAILED";
  const seconds: number = task.metadata.createdAt;
  return `${reply.success} ${task.videoId} ${task.externalVideoId ?? "-"} ${done} ${seconds} ${task.videoUrl ?? ""}`;
}

export function count(reply: Listed): number {
  const items: Task[] = reply.data.items;
  const next: string | null = reply.nextCursor;
  return items.length + reply.total + (reply.hasMore && next !== null ? 1 : 0);
}

export function explain(reply: Failure): string {
  const success: false = reply.success;
  return `${success} ${reply.error.code}: ${reply.message}`;
}

export function rate(reply: Stats): number {
  return (reply.successRate ?? 0) + reply.byStatus.QUEUED + reply.data.byType.VIDEO;
}

// @ts-expect-error the HTTP API's status words are upper case
export const lowercase: Task["status"] = "queued";
// @ts-expect-error a task without a prompt is no create body
export const noPrompt: CreateBody = { seconds: 4 };
// @ts-expect-error a success reply is not a failure
export const mixedUp: Failure = { success: true, message: "m", error: { code: "NOT_FOUND", message: "m" } };
"""


def test_a_typescript_client_generated_from_the_document_compiles_with_code_using_it(tmp_path: Path):
    generated = tmp_path / "api.d.ts"
    subprocess.run(
        [str(OPENAPI_TYPESCRIPT), str(DOCUMENT_PATH), "--output", str(generated), "--default-non-nullable", "false"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (tmp_path / "uses.ts").write_text(USES, encoding="utf-8")

    compiled = subprocess.run(
        [
            str(TSC),
            "--noEmit",
            "--strict",
            "--target",
            "es2020",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            str(tmp_path / "uses.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )

    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
