package contract

import (
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/saasconform/saasconform/spec"
)

// uuidFormat is the document's "uuid" format, spec.FormatUUID, with a fast
// path: a string isGUID accepts passes without the regexp (which ran three
// times on every call, for the path's subscriptionId and both id headers,
// and was a few percent of the fake's CPU); anything else goes to
// spec.FormatUUID, so its verdict and error text are the spec package's.
// formats_test.go checks that the fast path accepts nothing spec.FormatUUID
// refuses.
var uuidFormat openapi3.StringFormatValidator = openapi3.NewCallbackValidator(func(s string) error {
	if isGUID(s) {
		return nil
	}
	return spec.FormatUUID.Validate(s)
})

// formatOptions makes kin-openapi use uuidFormat for "uuid" in this
// package's validations; every other format is still looked up in the
// global registry spec.Load fills.
var formatOptions = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{"uuid": uuidFormat}),
}
