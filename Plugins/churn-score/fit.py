#!/usr/bin/env python3
"""Fits the churn-risk logistic regression shipped in churn.c, reproducibly.

Features: tenure (months), monthly charges, contract length in months (0 = month-to-month),
fibre internet (0/1), tech support (0/1). Standardised, L2 1e-3, 5,000 steps of gradient
descent; an 80/20 split of data/telco-churn/train.csv with seed 7. Prints the held-out
ROC-AUC and the coefficients on the raw scale, which churn.c carries as constants.

    python3 Plugins/churn-score/fit.py
"""
import csv
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
rows = list(csv.DictReader(open(ROOT / "data/telco-churn/train.csv")))
CONTRACT = {"Month-to-month": 0, "One year": 12, "Two year": 24}


def features(row):
    return [
        float(row["tenure"]), float(row["MonthlyCharges"]), CONTRACT[row["Contract"]],
        1.0 if row["InternetService"] == "Fiber optic" else 0.0, 1.0 if row["TechSupport"] == "Yes" else 0.0,
    ]


X = np.array([features(r) for r in rows])
y = np.array([1.0 if r["Churn"] == "Yes" else 0.0 for r in rows])
order = np.random.default_rng(7).permutation(len(y))
cut = int(len(y) * 0.8)
train, test = order[:cut], order[cut:]
mean, scale = X[train].mean(0), X[train].std(0)
Z = (X - mean) / scale
w, b = np.zeros(X.shape[1]), 0.0
for _ in range(5000):
    p = 1 / (1 + np.exp(-(Z[train] @ w + b)))
    g = p - y[train]
    w -= 0.1 * (Z[train].T @ g / len(train) + 1e-3 * w)
    b -= 0.1 * g.mean()


def auc(scores, labels):
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    positive = labels == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


print(f"held-out ROC-AUC: {auc(1 / (1 + np.exp(-(Z[test] @ w + b))), y[test]):.4f} on {len(test)} accounts")
raw = w / scale
print("coefficients (tenure, monthly, contract_months, fiber, tech_support):", ", ".join(f"{c:.6f}" for c in raw))
print(f"intercept: {b - (w * mean / scale).sum():.6f}")
