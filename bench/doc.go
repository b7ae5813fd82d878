// Package bench is the benchmark harness: traffic generation (package
// bench/gen, exposed as `xhep-bench gen`) and the end-to-end
// packets-per-second runs and result tables of `xhep-bench`.
package bench
