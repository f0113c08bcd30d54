"""The ticket-triage steps, ported one for one from Steward's shipped plugins so every engine
runs the same work: support.normalize, keywords.classify (Plugins/keywords/keywords.c),
support.route, support.draft_reply, support.send_reply (Plugins/support/Steps.swift), and the
template's config and review condition (workflows/support-ticket-triage.yaml)."""

import json
import os
import re
import resource

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CONFIG = {
    "review_threshold": 0.8,
    "routing": {
        "card_lost": {"queue": "cards-urgent", "priority": "P1"},
        "fraud": {"queue": "fraud", "priority": "P1"},
        "account_access": {"queue": "access", "priority": "P2"},
        "payment_issue": {"queue": "payments", "priority": "P2"},
        "refund": {"queue": "payments", "priority": "P3"},
        "fees": {"queue": "general", "priority": "P4"},
        "default": {"queue": "general", "priority": "P3"},
    },
    "replies": {
        "card_lost": "We have frozen your card as a precaution. A replacement is on its way; you can unfreeze the old card in the app if you find it.",
        "fraud": "We have blocked the card and opened a fraud case. A specialist will contact you within the hour; you will not be liable for transactions you did not make.",
        "account_access": "You can reset your passcode from the login screen with \"Forgot passcode\". If that fails, reply and we will verify your identity.",
        "payment_issue": "Payments can take up to one business day to clear. If yours is still pending after that, reply with the date and amount.",
        "refund": "Refunds are issued by the merchant. Once they send it, it usually appears within 5 business days.",
        "fees": "Our current fees and exchange rates are listed in the app under Account > Fees.",
        "default": "Thanks for getting in touch. A member of our team will look at your request shortly.",
    },
}

CATEGORIES = [
    ("card_lost", [("lost", 2), ("stolen", 3), ("missing card", 3), ("can't find my card", 3), ("misplaced", 2)]),
    ("fraud", [("fraud", 3), ("didn't make", 3), ("did not make", 3), ("unauthorized", 3), ("unauthorised", 3),
               ("don't recognise", 3), ("don't recognize", 3), ("compromised", 3), ("hacked", 2)]),
    ("refund", [("refund", 3), ("money back", 3), ("return", 1), ("reimburse", 2), ("charged twice", 2)]),
    ("payment_issue", [("declined", 3), ("payment failed", 3), ("transfer", 2), ("pending", 2), ("payment", 1),
                       ("top up", 2), ("top-up", 2)]),
    ("account_access", [("password", 3), ("log in", 2), ("login", 2), ("locked out", 3), ("passcode", 3), ("pin", 2),
                        ("verify", 1), ("verification", 2)]),
    ("fees", [("fee", 3), ("charge", 1), ("exchange rate", 3), ("commission", 2)]),
]


def load_ticket(name="ticket-2.json"):
    with open(os.path.join(ROOT, "workflows", "examples", name)) as f:
        return json.load(f)


def _collapse(text):
    return " ".join(text.split())


def normalize(raw):
    """support.normalize"""
    subject = _collapse(raw.get("subject") or "")
    body = _collapse(raw.get("body") or "")
    if not subject and not body:
        raise ValueError("a ticket needs a subject or a body")
    text = body if not subject else (subject if not body else subject + ". " + body)
    out = {"text": text, "subject": subject, "body": body, "channel": raw.get("channel") or "email",
           "word_count": len([w for w in text.split(" ") if w])}
    if isinstance(raw.get("customer"), dict):
        out["customer"] = raw["customer"]
    return out


def _contains_phrase(text, phrase):
    start = text.find(phrase)
    while start != -1:
        before_ok = start == 0 or not text[start - 1].isalnum()
        end = start + len(phrase)
        after = text[end] if end < len(text) else ""
        after_ok = after == "" or not after.isalnum() or after in "sed"
        if before_ok and after_ok:
            return True
        start = text.find(phrase, start + 1)
    return False


def classify(text):
    """keywords.classify"""
    text = text.lower()
    scores = []
    matched = []
    for name, keywords in CATEGORIES:
        score = 0.0
        for phrase, weight in keywords:
            if _contains_phrase(text, phrase):
                score += weight
                matched.append(phrase)
        scores.append((name, score))
    total = sum(s for _, s in scores)
    best_name, best_score = scores[0]
    for name, score in scores[1:]:
        if score > best_score:
            best_name, best_score = name, score
    label = best_name if total > 0 else "general"
    share = best_score / total if total > 0 else 0.0
    strength = 1.0 if total >= 3 else total / 3.0
    confidence = share * (0.5 + 0.5 * strength) if total > 0 else 0.3
    return {"category": label, "confidence": round(confidence, 4), "matched": matched,
            "scores": {name: score for name, score in scores}}


def route(category, routes):
    """support.route"""
    r = routes.get(category) or routes["default"]
    return {"queue": r["queue"], "priority": r["priority"], "category": category}


def draft_reply(category, subject, name, replies, signature="The Support Team"):
    """support.draft_reply"""
    template = replies.get(category) or replies["default"]
    name = name or "there"
    return {"subject": "Re: " + subject if subject else "Your request",
            "body": "Hi " + name + ",\n\n" + template + "\n\n" + signature}


def send_reply(reply, channel, idempotency_key):
    """support.send_reply: the message id derives from the idempotency key (FNV-1a)."""
    if not reply.get("body"):
        raise ValueError("reply needs a body")
    h = 0xcbf29ce484222325
    for b in idempotency_key.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return {"sent": True, "message_id": "msg-%x" % h, "channel": channel or "email", "characters": len(reply["body"])}


def needs_review(routing, classification):
    """The review_reply checkpoint's condition."""
    return routing["priority"] == "P1" or classification["confidence"] < CONFIG["review_threshold"]


def sqlite_file_bytes(path):
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


def cpu_seconds():
    """User+sys CPU time of this process so far, all threads, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
