// A Porcupine test that reads a history in chaosplay's JSON lines (docs/history.md) from
// $HISTORY and checks it against the register model, per key, with the same semantics as
// chaosplay's: failed operations and unknown reads are left out, an unknown operation never
// returns, an unknown compare-and-set may or may not have happened. bench/hard.sh copies it
// into Porcupine's package before building its test binary.
package porcupine

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"
)

type jl struct {
	Client   int64   `json:"client"`
	Key      string  `json:"key"`
	F        string  `json:"f"`
	Value    *int64  `json:"value"`
	From     int64   `json:"from"`
	To       int64   `json:"to"`
	Invoke   int64   `json:"invoke"`
	Complete *int64  `json:"complete"`
	Outcome  string  `json:"outcome"`
}

type rin struct {
	key      string
	f        string
	v        int64
	from, to int64
}
type rout struct {
	v       int64 // -1 nil
	unknown bool
}

func TestJSONLines(t *testing.T) {
	f, _ := os.Open(os.Getenv("HISTORY"))
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var ops []Operation
	for sc.Scan() {
		var l jl
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Outcome == "fail" || (l.Outcome == "unknown" && l.F == "read") {
			continue
		}
		in := rin{key: l.Key, f: l.F, from: l.From, to: l.To}
		out := rout{v: -1, unknown: l.Outcome == "unknown"}
		if l.Value != nil {
			in.v = *l.Value
			out.v = *l.Value
		}
		ret := int64(math.MaxInt64)
		if l.Complete != nil {
			ret = *l.Complete
		}
		ops = append(ops, Operation{ClientId: int(l.Client % 100000), Input: in, Call: l.Invoke, Output: out, Return: ret})
	}
	model := Model{
		Partition: func(h []Operation) [][]Operation {
			m := map[string][]Operation{}
			for _, o := range h {
				k := o.Input.(rin).key
				m[k] = append(m[k], o)
			}
			var r [][]Operation
			for _, v := range m {
				r = append(r, v)
			}
			return r
		},
		Init: func() interface{} { return int64(-1) },
		Step: func(s, i, o interface{}) (bool, interface{}) {
			st := s.(int64)
			in := i.(rin)
			out := o.(rout)
			switch in.f {
			case "read":
				return out.unknown || out.v == st, st
			case "write":
				return true, in.v
			default:
				if st == in.from {
					return true, in.to
				}
				return out.unknown, st
			}
		},
	}
	start := time.Now()
	timeout, _ := time.ParseDuration(os.Getenv("TIMEOUT"))
	res := CheckOperationsTimeout(model, ops, timeout)
	verdict := map[CheckResult]string{Ok: "linearizable", Illegal: "not linearizable", Unknown: "unknown"}[res]
	t.Logf("verdict %s, %d ops, %v", verdict, len(ops), time.Since(start))
}
