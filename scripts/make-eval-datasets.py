#!/usr/bin/env python3
"""Writes the shipped golden datasets under evals/ from the project's own held-out splits.

- evals/support-ticket-triage/banking77-heldout.jsonl: the 1,199 banking77 rows the
  banking-intent plugin holds out (Plugins/banking-intent/models/split.json, "held_out"; never
  used for training, selection or calibration). Input: the query as a ticket body. Expected:
  the true intent at classification.label and the priority the template's own routing table
  gives that intent at routing.priority, and its queue at routing.queue.
- evals/support-ticket-triage/out-of-scope-heldout.jsonl: the out-of-scope texts
  banking-intent@3.0.0 holds out (split.json, "out_of_scope"): every query of the held-out CLINC150
  intents and StackFAQ articles, and the held-out CLINC150 out-of-scope queries. Expected:
  scope = "out_of_scope" (the template should hand every one to a person; the review rate of a
  run on this set is the share it did not answer).
- evals/account-health-review/telco-heldout.jsonl: the 20% of data/telco-churn/train.csv that
  Plugins/churn-score/fit.py holds out (numpy default_rng(7) permutation, rows after the 80%
  cut). Input: the five account signals. Expected: at_risk = whether the account churned.

Deterministic: the same inputs give byte-identical files.

    python3 scripts/make-eval-datasets.py
"""
import csv
import json
import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def write(path, cases):
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(cases)} cases")


def banking77():
    rows = list(csv.DictReader(open(ROOT / "data/banking77/train.csv", newline="", encoding="utf-8")))
    split = json.load(open(ROOT / "Plugins/banking-intent/models/split.json"))
    assert split["rows"] == len(rows), "split.json was made from another train.csv"
    template = yaml.safe_load(open(ROOT / "workflows/support-ticket-triage.yaml"))
    routing = template["config"]["routing"]
    cases = []
    for row in sorted(split["held_out"]):
        intent = rows[row]["category"]
        route = routing.get(intent) or routing["default"]
        cases.append({
            "id": f"banking77-train-{row}",
            "input": {"body": rows[row]["text"], "channel": "email"},
            "expected": {"classification": {"label": intent}, "routing": {"priority": route["priority"], "queue": route["queue"]}},
        })
    write(ROOT / "evals/support-ticket-triage/banking77-heldout.jsonl", cases)


def out_of_scope():
    split = json.load(open(ROOT / "Plugins/banking-intent/models/split.json"))["out_of_scope"]
    intents = set(split["held_out_clinc_intents"])
    articles = set(split["held_out_stackfaq_articles"])
    cases = []
    for number, line in enumerate(open(ROOT / "data/clinc150/in_scope_train_val.jsonl", encoding="utf-8")):
        query = json.loads(line)
        if query["intent"] in intents:
            cases.append({"id": f"clinc150-{query['intent']}-{number}", "input": {"body": query["text"], "channel": "chat"},
                          "expected": {"scope": "out_of_scope"}})
    for number, text in enumerate(split["held_out_clinc_oos_queries"]):
        cases.append({"id": f"clinc150-oos-{number}", "input": {"body": text, "channel": "chat"}, "expected": {"scope": "out_of_scope"}})
    for number, line in enumerate(open(ROOT / "data/stackfaq/queries-dev.jsonl", encoding="utf-8")):
        query = json.loads(line)
        if query["article"] in articles:
            cases.append({"id": f"stackfaq-{query['article']}-{number}", "input": {"body": query["query"], "channel": "email"},
                          "expected": {"scope": "out_of_scope"}})
    write(ROOT / "evals/support-ticket-triage/out-of-scope-heldout.jsonl", cases)


def telco():
    import numpy as np

    rows = list(csv.DictReader(open(ROOT / "data/telco-churn/train.csv", newline="", encoding="utf-8")))
    contract = {"Month-to-month": 0, "One year": 12, "Two year": 24}
    order = np.random.default_rng(7).permutation(len(rows))
    held_out = sorted(int(i) for i in order[int(len(rows) * 0.8):])
    cases = []
    for index in held_out:
        row = rows[index]
        cases.append({
            "id": row["customerID"],
            "input": {
                "account": row["customerID"], "tenure_months": int(row["tenure"]), "monthly_charges": float(row["MonthlyCharges"]),
                "contract_months": contract[row["Contract"]], "fiber": row["InternetService"] == "Fiber optic",
                "tech_support": row["TechSupport"] == "Yes",
            },
            "expected": {"at_risk": row["Churn"] == "Yes"},
        })
    write(ROOT / "evals/account-health-review/telco-heldout.jsonl", cases)


banking77()
out_of_scope()
telco()
