// Go's verdict on regular expressions: reads JSON lines {"p": expr, "t": [texts]} on stdin and
// writes {"err": regexp.Compile's error text, "m": [MatchString per text]} per line.
// Run by generate.py with the Go toolchain Debian's serf 0.9.4 was built with (go1.19.8).
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"runtime"
)

type request struct {
	Expr  string   `json:"p"`
	Texts []string `json:"t"`
}

type verdict struct {
	Err     string `json:"err"`
	Matches []bool `json:"m"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		os.Stdout.WriteString(runtime.Version() + "\n")
		return
	}
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			panic(err)
		}
		var v verdict
		re, err := regexp.Compile(req.Expr)
		if err != nil {
			v.Err = err.Error()
		} else {
			v.Matches = []bool{}
			for _, t := range req.Texts {
				v.Matches = append(v.Matches, re.MatchString(t))
			}
		}
		if err := out.Encode(v); err != nil {
			panic(err)
		}
	}
}
