#include <doctest/doctest.h>

#include "pool/pipeline.h"

using duroxide::pg::PipelineBook;
using In = PipelineBook::Input;
using Act = PipelineBook::Action;

TEST_CASE("pipeline: plain query keeps its result and completes on sync") {
  PipelineBook b;
  b.push(7, 1);
  CHECK(b.feed(In::kResult).action == Act::kKeep);
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  auto d = b.feed(In::kSync);
  CHECK(d.action == Act::kComplete);
  CHECK(d.id == 7);
  CHECK(b.empty());
}

TEST_CASE("pipeline: a prepare's success is discarded, the query's result kept") {
  PipelineBook b;
  b.push(1, 2);
  CHECK(b.feed(In::kResult).action == Act::kDiscard);  // Prepare OK
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  CHECK(b.feed(In::kResult).action == Act::kKeep);
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  CHECK(b.feed(In::kSync).action == Act::kComplete);
}

TEST_CASE("pipeline: a failed prepare reports command 0 and the skipped query is discarded") {
  PipelineBook b;
  b.push(1, 2);
  auto d = b.feed(In::kError);
  CHECK(d.action == Act::kKeepError);
  CHECK(d.command == 0);
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  CHECK(b.feed(In::kAborted).action == Act::kDiscard);
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  CHECK(b.feed(In::kSync).action == Act::kComplete);
}

TEST_CASE("pipeline: an error in one query does not touch the next") {
  PipelineBook b;
  b.push(1, 1);
  b.push(2, 1);
  CHECK(b.feed(In::kError).action == Act::kKeepError);
  CHECK(b.feed(In::kEnd).action == Act::kDiscard);
  CHECK(b.feed(In::kSync).id == 1);
  auto d = b.feed(In::kResult);
  CHECK(d.action == Act::kKeep);
  CHECK(d.id == 2);
  b.feed(In::kEnd);
  CHECK(b.feed(In::kSync).id == 2);
}

TEST_CASE("pipeline: sync may follow an error directly (server skipped the rest)") {
  PipelineBook b;
  b.push(3, 2);
  b.feed(In::kError);
  b.feed(In::kEnd);
  CHECK(b.feed(In::kSync).action == Act::kComplete);
}

TEST_CASE("pipeline: impossible orders are protocol errors") {
  PipelineBook b;
  CHECK(b.feed(In::kResult).action == Act::kProtocolError);  // nothing in flight
  b.push(1, 1);
  CHECK(b.feed(In::kSync).action == Act::kProtocolError);  // sync before the query's end
  PipelineBook c;
  c.push(1, 1);
  c.feed(In::kResult);
  c.feed(In::kEnd);
  CHECK(c.feed(In::kResult).action == Act::kProtocolError);  // result after the last command
}
