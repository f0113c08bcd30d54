/*
 * churn-score -- plain exported C functions that templates call through libffi (`ffi`
 * states). No Steward header, no wrapper: this is how existing C scoring code becomes a step.
 *
 * Coefficients fitted by Plugins/churn-score/fit.py on data/telco-churn/train.csv
 * (logistic regression; held-out ROC-AUC 0.832 on 1,128 accounts).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

/* Probability in [0, 1] that the account churns. */
EXPORT double churn_risk(double tenure_months, double monthly_charges, int32_t contract_months, bool fiber,
                         bool tech_support) {
    double z = -1.231932 - 0.034714 * tenure_months + 0.019758 * monthly_charges - 0.069846 * (double)contract_months +
               0.544205 * (fiber ? 1.0 : 0.0) - 0.537582 * (tech_support ? 1.0 : 0.0);
    return 1.0 / (1.0 + exp(-z));
}

/* A band for people: "high" (>= 0.5), "medium" (>= 0.25) or "low". The string is static. */
EXPORT const char *risk_band(double risk) {
    if (risk >= 0.5) return "high";
    if (risk >= 0.25) return "medium";
    return "low";
}

/* Whether the account is at risk of churning: the same cut as the "high" band. */
EXPORT bool at_risk(double risk) { return risk >= 0.5; }

/* Whole months until the contract renews, counting from tenure; 0 for month-to-month. */
EXPORT int64_t months_to_renewal(int64_t tenure_months, int32_t contract_months) {
    if (contract_months <= 0) return 0;
    return contract_months - (tenure_months % contract_months);
}
