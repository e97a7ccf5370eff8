"""A calibrated ``confidence`` in [0, 1] that a result is what the query asks about.

Fused z-scores rank well but say nothing absolute: the best of ten unrelated passages still has the highest
z-score. Confidence uses two absolute signals of the best query:

- ``cosine``: the passage's cosine to the query (all-MiniLM-L6-v2: ~0.1–0.3 unrelated, 0.5+ same topic);
- ``coverage``: the share of the query's term weight (IDF) that the passage, or the line before it, contains.

(cosine is None for a result with no comparable vector: then coverage alone) and maps them through a logistic
function, ``1 / (1 + exp(-(W_COSINE·cosine + W_COVERAGE·coverage + BIAS)))``.
The weights are fitted by ``bench/memory_search.py --calibrate`` on ``bench/recall_set.json`` (our own data: facts,
paraphrases that share no content word with the fact, updated facts and questions nothing answers), so that a
result of confidence *c* is relevant about *c* of the time there; LoCoMo is only ever used to evaluate them.
``CONFIDENT`` (0.5) is where ``search_memory`` stops presenting a result as an answer.
"""

from __future__ import annotations

import math

# `bench/memory_search.py --calibrate` (2026-12-05, 291 pairs, 67 relevant): W_COSINE 14.6, W_COVERAGE -0.3,
# W_OTHER_SPEAKER -2.0, W_ATTRIBUTION 8.9, BIAS -6.3; reliability 0.07 / 0.29 / 0.46 / 0.75 / 1.00 in the five
# bins of 0.2. The two speaker weights come from only 22 two-person questions (the fitted 8.9 is what perfect
# separation of a small set looks like), so they are tempered to -3 and 3.
# Coverage is kept slightly positive instead of the fitted -0.6: the set is mostly paraphrases that share no word
# with their fact by construction, which teaches the fit that shared words do not matter; in ordinary use a rare
# shared word (a name, a place) is evidence.
W_COSINE = 14.5
W_COVERAGE = 0.5
BIAS = -6.6
# Results with no comparable vector (out-of-context lines, passages of another embedding model, no embedder)
# are judged by keyword coverage alone.
# A dialogue line said by someone other than the one person the query names ("What did Ben quit?" answered by
# "Ana: I quit…"), a line that person says *to* the other ("Ana: how's your new job?"), or a passage that names no one
# of the role the query asks about ("my wife's passport" / "my passport expires in march": recall/roles.py) is
# evidence about the wrong person; so is a passage with no number for a question that asks for a quantity
# (recall/quantity.py: "how much did the lodge cost?").
W_OTHER_SPEAKER = -3.0
# ... and a question whose topic matches someone else's lines better than the named person's own (``attribution``
# < 0, in z units) is probably about the wrong person.
W_ATTRIBUTION = 3.0
W_COVERAGE_ONLY = 6.0
BIAS_COVERAGE_ONLY = -3.5
CONFIDENT = 0.5
WEAK = 0.05  # below this a result is not shown to the model at all


def confidence(cosine: float | None, coverage: float, *, other_speaker: bool = False, attribution: float = 0.0
               ) -> float:
    if cosine is None:
        z = W_COVERAGE_ONLY * coverage + BIAS_COVERAGE_ONLY
    else:
        z = W_COSINE * cosine + W_COVERAGE * coverage + BIAS
    if other_speaker:
        z += W_OTHER_SPEAKER
    z += W_ATTRIBUTION * min(attribution, 0.0)
    return 1.0 / (1.0 + math.exp(-z))
