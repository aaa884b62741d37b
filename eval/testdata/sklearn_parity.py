"""Compare bioencoder/eval with NumPy, SciPy and scikit-learn.

A checking tool, not a test dependency (Debian: python3-sklearn). Usage:

    EVAL_PARITY_OUT=/tmp/parity.json go test ./eval -run DumpForSklearn
    /usr/bin/python3 eval/testdata/sklearn_parity.py /tmp/parity.json [DATA_DIR]

DATA_DIR defaults to $BIOENC_SHARED/data or ../shared/data.
"""
import csv, gzip, io, json, os, sys

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold

d = json.load(open(sys.argv[1]))
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.environ.get("BIOENC_SHARED", "../shared"), "data")
ok = True

for name in ["PubMed QA", "PubMed Sections", "PubMed Summary"]:
    s = d[name]
    pairs = s["pairs"]
    n = len(pairs)
    rng = np.random.RandomState(42)
    while True:
        p = np.arange(n)
        rng.shuffle(p)
        if (p != np.arange(n)).all():
            break
    same_perm = list(p) == s["perm"]
    A = [x["A"] for x in pairs]
    B = [x["B"] for x in pairs]
    a, b = A + A, B + [B[j] for j in p]
    labels = [1] * n + [0] * n
    v = TfidfVectorizer().fit(list(dict.fromkeys(A + B)))
    sc = np.asarray(v.transform(a).multiply(v.transform(b)).sum(axis=1)).ravel()
    pr, sp = 100 * pearsonr(sc, labels)[0], 100 * spearmanr(sc, labels)[0]
    good = same_perm and abs(pr - s["pearson"]) < 1e-6 and abs(sp - s["spearman"]) < 1e-6
    ok &= good
    print(f"{name}: derangement equal {same_perm}; pearson sklearn {pr:.6f} go {s['pearson']:.6f}; "
          f"spearman sklearn {sp:.6f} go {s['spearman']:.6f}: {'OK' if good else 'DIFFER'}")

rows = list(csv.reader(io.TextIOWrapper(gzip.open(os.path.join(data, "medical_tc_test.csv.gz")), encoding="utf-8")))[1:]
y = np.array([int(r[0]) - 1 for r in rows])
X = [r[1] for r in rows]
folds = np.empty(len(y), int)
for i, (_, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y)):
    folds[te] = i
same_folds = list(folds) == d["folds"]
ok &= same_folds
print("StratifiedKFold(5, shuffle=True, random_state=42) folds equal:", same_folds)
P = np.zeros((len(y), 5))
for f in range(5):
    tr, te = np.where(folds != f)[0], np.where(folds == f)[0]
    v = TfidfVectorizer()
    m = LogisticRegression(C=1.0, max_iter=10000, tol=1e-10).fit(v.fit_transform([X[i] for i in tr]), y[tr])
    P[te] = m.predict_proba(v.transform([X[i] for i in te]))
acc, loss = accuracy_score(y, P.argmax(1)), log_loss(y, P, eps=1e-15)
cv = d["cv"]
good = abs(acc - cv["accuracy"]) < 1e-9 and abs(loss - cv["loss"]) < 1e-4
ok &= good
print(f"TF-IDF + LR 5-fold: sklearn accuracy {acc:.6f} loss {loss:.6f}; go accuracy {cv['accuracy']:.6f} loss {cv['loss']:.6f}: "
      f"{'OK' if good else 'DIFFER'}")
sys.exit(0 if ok else 1)
