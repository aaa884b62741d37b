// Package eval implements bioencoder's evaluation protocols (EVALUATION.md
// §C) on the data of the shared folder (shared/data, see SOURCES.md), and
// the TF-IDF baselines that run through the same protocols.
//
// Protocols take small interfaces, so any model plugs in:
//
//   - PairSimilarity / RunSimilarity take a Scorer. For N true pairs
//     (a_i, b_i) it scores the positives (a_i, b_i, 1) and the negatives
//     (a_i, b_p(i), 0), p = Derangement(N, seed), and reports Pearson and
//     Spearman x 100 between scores and labels, on PubMed QA (1000
//     question/long-answer pairs), PubMed Sections (800 background/
//     conclusions pairs, SectionPairs) and PubMed Summary (500
//     article/abstract pairs). ModelScorer adapts a *bioencoder.Model:
//     cosine of Embed vectors, ColBERT MaxSim divided by the number of query
//     vectors, or a cross-encoder's Predict score.
//   - CrossValidate takes a FineTuner (Fit -> Predictor of class
//     probabilities): Medical Abstracts, StratifiedKFold(5, seed), accuracy
//     and mean cross-entropy over all out-of-fold predictions.
//   - NER takes a TokenFineTuner (train and dev sentences -> Tagger):
//     NCBI-disease test entity-level precision/recall/F1, exact span and
//     type, strict IOB2 decoding (the lenient conlleval reading is reported
//     beside it).
//   - ChemProt takes a FineTuner (a DevFineTuner gets the dev split for
//     selection): test accuracy and micro-F1 over the classes other than
//     "false". The SciBERT split has 13 relation labels and no "false", so
//     there micro-F1 equals accuracy.
//   - RunFillMask takes a Masker: top-1 and top-k recovery of one masked
//     single-token word per held-out abstract (FillMaskSamples documents
//     the choice of words). ModelMasker adapts a masked-LM model.
//
// Fine-tuning our own encoders is the training engine's job: it registers
// NewModelFineTuner / NewModelTokenFineTuner; until then ModelFineTuner
// returns ErrNoFineTuning.
//
// Everything seeded uses RNG, MT19937 with NumPy's legacy seeding and
// shuffle, so derangements, folds and masked words can be reproduced in
// Python; StratifiedKFold reproduces scikit-learn's folds exactly, and the
// TF-IDF (TFIDF, TFIDFScorer) and logistic regression (LogReg,
// TFIDFLogReg) baselines reproduce TfidfVectorizer() and
// LogisticRegression(C=1) (see testdata/sklearn_parity.py).
package eval
