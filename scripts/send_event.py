#!/usr/bin/env python3
"""Sends events to the plugin server the way PostHog's Django app does: a Celery task on the
plugins queue in Redis.

  scripts/send_event.py --event '$pageview' --distinct-id me --properties '{"$current_url": "https://example.com"}'
"""
import argparse
import datetime
import json
import os

from celery import Celery

TASK = "posthog.tasks.process_event.process_event_with_plugins"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:63799"))
    parser.add_argument("--queue", default=os.environ.get("PLUGINS_CELERY_QUEUE", "posthog-plugins"))
    parser.add_argument("--team", type=int, default=2)
    parser.add_argument("--event", default="$pageview")
    parser.add_argument("--distinct-id", default="test-user")
    parser.add_argument("--properties", default="{}", help="JSON object of event properties")
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()

    app = Celery(broker=args.redis_url)
    now = datetime.datetime.now(datetime.timezone.utc)
    for _ in range(args.count):
        data = {"event": args.event, "properties": json.loads(args.properties), "timestamp": now.isoformat()}
        app.send_task(
            TASK,
            args=[args.distinct_id, "127.0.0.1", "http://localhost:8000", data, args.team, now.isoformat(), now],
            queue=args.queue,
        )
    print(f"sent {args.count} event(s) to {args.queue} on {args.redis_url}")


if __name__ == "__main__":
    main()
