package main

import (
	"flag"
	"reflect"
	"strings"

	"github.com/xhep/xhep/cmd/internal/cli"
	"github.com/xhep/xhep/collector"
)

// settingFlags maps each collector.Config setting ("Read",
// "Console.LDAPURL") to its flag ("--read"), found from the flag
// definitions by the variable each flag is bound to, so the collector's
// errors can name flags without the collector knowing them.
func settingFlags() map[string]string {
	var v flagValues
	fs := cli.NewFlagSet("xhep-collector")
	defineFlags(fs, &v)
	byAddr := map[uintptr]string{}
	var walk func(rv reflect.Value, prefix string)
	walk = func(rv reflect.Value, prefix string) {
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == reflect.TypeFor[collector.Config]().PkgPath() {
				walk(rv.Field(i), prefix+f.Name+".")
				continue
			}
			byAddr[rv.Field(i).Addr().Pointer()] = prefix + f.Name
		}
	}
	walk(reflect.ValueOf(&v.Config).Elem(), "")
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if s, ok := byAddr[cli.Target(f)]; ok {
			out[s] = "--" + f.Name
		}
	})
	return out
}

// flagNamed returns err with every collector.SettingError in it (joined,
// wrapped, at any depth) written with flag names; errors.Is and errors.As
// still see the original.
func flagNamed(err error) error {
	if err == nil {
		return nil
	}
	flags := settingFlags()
	name := func(s string) string {
		if f, ok := flags[s]; ok {
			return f
		}
		return s
	}
	msg := err.Error()
	for _, se := range settingErrors(err, nil) { // outer ones first
		msg = strings.Replace(msg, se.Error(), se.Text(name), 1)
	}
	return &namedError{msg, err}
}

// settingErrors appends the SettingErrors in err's tree, pre-order.
func settingErrors(err error, out []*collector.SettingError) []*collector.SettingError {
	if se, ok := err.(*collector.SettingError); ok {
		out = append(out, se)
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			out = settingErrors(e, out)
		}
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = settingErrors(e, out)
		}
	}
	return out
}

type namedError struct {
	text string
	err  error
}

func (e *namedError) Error() string { return e.text }
func (e *namedError) Unwrap() error { return e.err }
