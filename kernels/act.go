package kernels

import (
	"fmt"
	"strings"
)

// Act is an activation function as Hugging Face configs name it (ACT2FN keys)
// or as sentence-transformers Dense modules name it (torch.nn class paths).
type Act int

const (
	Identity  Act = iota // "linear", torch.nn.Identity
	GELU                 // "gelu", "gelu_python": exact 0.5x(1+erf(x/√2))
	GELUTanh             // "gelu_new", "gelu_pytorch_tanh": tanh approximation
	GELUFast             // "gelu_fast": 0.5x(1+tanh(0.7978845608x(1+0.044715x²)))
	QuickGELU            // "quick_gelu": x·sigmoid(1.702x)
	GELU10               // "gelu_10": exact GELU clipped to [-10, 10]
	ReLU                 // "relu"
	SiLU                 // "silu", "swish": x·sigmoid(x)
	Tanh                 // "tanh"
	Sigmoid              // "sigmoid"
	Mish                 // "mish": x·tanh(softplus(x))
)

var actNames = map[string]Act{
	"linear": Identity, "identity": Identity, "none": Identity, "": Identity,
	"gelu": GELU, "gelu_python": GELU, "gelu_accurate": GELUTanh,
	"gelu_new": GELUTanh, "gelu_pytorch_tanh": GELUTanh,
	"gelu_fast": GELUFast, "quick_gelu": QuickGELU, "gelu_10": GELU10,
	"relu": ReLU, "silu": SiLU, "swish": SiLU, "tanh": Tanh, "sigmoid": Sigmoid, "mish": Mish,
}

// ParseAct reads an activation name: an HF config key such as "gelu_new", or
// a torch class path such as "torch.nn.modules.activation.Tanh".
func ParseAct(name string) (Act, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexByte(key, '.'); i >= 0 && strings.HasPrefix(key, "torch.") {
		key = key[i+1:]
		switch key {
		case "identity":
			return Identity, nil
		case "gelu":
			return GELU, nil
		}
	}
	if a, ok := actNames[key]; ok {
		return a, nil
	}
	return Identity, fmt.Errorf("unknown activation %q", name)
}

func (a Act) String() string {
	switch a {
	case Identity:
		return "linear"
	case GELU:
		return "gelu"
	case GELUTanh:
		return "gelu_pytorch_tanh"
	case GELUFast:
		return "gelu_fast"
	case QuickGELU:
		return "quick_gelu"
	case GELU10:
		return "gelu_10"
	case ReLU:
		return "relu"
	case SiLU:
		return "silu"
	case Tanh:
		return "tanh"
	case Sigmoid:
		return "sigmoid"
	case Mish:
		return "mish"
	}
	return fmt.Sprintf("Act(%d)", int(a))
}
