package notebook

// Must returns v, and panics with err when it is not nil: a notebook cell's way of
// stopping at the first error (GoNB shows the panic under the cell), instead of
// "if err != nil { panic(err) }" after every call.
//
//	rep := notebook.Must(report.Build(dir))
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Must2 is Must for calls that return two values and an error.
//
//	bars, curves := notebook.Must2(notebook.EvaluateVariants(dir, variants, "valid_loss", "valid_loss"))
func Must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// Must0 is Must for calls that return only an error.
//
//	notebook.Must0(nbplot.Display(fig, size))
func Must0(err error) {
	if err != nil {
		panic(err)
	}
}
