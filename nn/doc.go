// Package nn is the engine every bioencoder model runs on, for inference and
// for training alike.
//
// Design (the short note the training engine promised):
//
//   - Parameters live in one float32 buffer and their gradients in a second
//     buffer of the same layout (as in llm.c). A Param is a named view into
//     both, named exactly as the Hugging Face state dict names it, so loading,
//     saving and the optimizer are loops over one slice. Params declared one
//     after another are adjacent in memory, which lets a model fuse BERT's
//     query/key/value weights into one [3H, H] matrix without copying.
//
//   - A Graph runs coarse operations (Linear, LayerNorm, Attention, GeGLU,
//     Embedding, pooling, losses...). Each op computes its output into
//     workspace buffers and, when the graph is training, appends a closure
//     that computes its backward pass. Backward runs the tape in reverse.
//     Ops are coarse and hand-differentiated, so a model file is written once,
//     as forward code that reads top to bottom like the paper's figure, and
//     serves inference and training unchanged.
//
//   - Activations are matrices [rows, cols]. Token activations are ragged:
//     the sequences of a batch are laid end to end with no padding (see
//     Batch), so padding costs no compute. Each token carries its position and
//     whether it may be attended to as a key, which covers padding,
//     ColBERT's [MASK] query expansion and Hugging Face's pad-position outputs
//     with one mechanism.
//
//   - Attention is blocked over query rows: a block of queries against the
//     keys it can see (the whole sequence for global layers, a band for
//     sliding-window layers), so no S x S matrix is ever held. Backward
//     recomputes the probabilities block by block instead of storing them.
//
//   - Dropout masks come from a counter-based hash of (seed, op, index), so
//     they are identical across thread counts and need no storage: backward
//     regenerates them.
package nn
