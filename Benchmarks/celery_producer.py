#!/usr/bin/env python3
"""Queues events for the end-to-end benchmark with PostHog's own Celery client (`send_task`), the way
PostHog's Django app does: N `$pageview` events cycling over D distinct ids and the given teams.

  Benchmarks/celery_producer.py --redis-url redis://127.0.0.1:63799 --queue q --count 20000 --distinct-ids 2000
"""
import argparse
import datetime

from celery import Celery

TASK = "posthog.tasks.process_event.process_event_with_plugins"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--distinct-ids", type=int, default=2000)
    parser.add_argument("--teams", default="2", help="comma-separated team ids, used in turn")
    args = parser.parse_args()

    teams = [int(t) for t in args.teams.split(",")]
    app = Celery(broker=args.redis_url)
    now = datetime.datetime.now(datetime.timezone.utc)
    with app.producer_or_acquire() as producer:
        for i in range(args.count):
            data = {
                "event": "$pageview",
                "properties": {"$current_url": f"https://example.com/page/{i % 50}", "$browser": "Firefox", "index": i},
                "timestamp": now.isoformat(),
            }
            app.send_task(
                TASK,
                args=[f"user-{i % args.distinct_ids}", "127.0.0.1", "http://localhost:8000", data, teams[i % len(teams)], now.isoformat(), now],
                queue=args.queue,
                producer=producer,
            )


if __name__ == "__main__":
    main()
