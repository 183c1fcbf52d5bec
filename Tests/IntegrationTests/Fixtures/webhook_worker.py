"""A real Celery worker standing in for PostHog's Django side: it registers the webhook tasks the
plugin server publishes and appends the arguments it receives, one JSON line per task, to a file."""
import json
import os

from celery import Celery

app = Celery(broker=os.environ["WEBHOOK_BROKER_URL"])
app.conf.task_default_queue = os.environ["WEBHOOK_QUEUE"]
OUTPUT = os.environ["WEBHOOK_OUTPUT"]


def record(name, args, kwargs):
    with open(OUTPUT, "a") as output:
        output.write(json.dumps({"task": name, "args": args, "kwargs": kwargs}) + "\n")


@app.task(name="posthog.tasks.webhooks.post_event_to_webhook")
def post_event_to_webhook(*args, **kwargs):
    record("posthog.tasks.webhooks.post_event_to_webhook", list(args), kwargs)


@app.task(name="ee.tasks.webhooks_ee.post_event_to_webhook_ee")
def post_event_to_webhook_ee(*args, **kwargs):
    record("ee.tasks.webhooks_ee.post_event_to_webhook_ee", list(args), kwargs)
