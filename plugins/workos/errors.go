package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// httpError extracts the SDK's HTTPError (returned by value or pointer).
func httpError(err error) (workos_errors.HTTPError, bool) {
	var v workos_errors.HTTPError
	if errors.As(err, &v) {
		return v, true
	}
	var p *workos_errors.HTTPError
	if errors.As(err, &p) && p != nil {
		return *p, true
	}
	return workos_errors.HTTPError{}, false
}

// isAuthFlowError reports the SDK's typed authentication errors (email
// verification, MFA, organization selection, SSO required…).
func isAuthFlowError(err error) bool {
	var (
		ev  *workos_errors.EmailVerificationRequiredError
		me  *workos_errors.MFAEnrollmentError
		mc  *workos_errors.MFAChallengeError
		os  *workos_errors.OrganizationSelectionRequiredError
		sso *workos_errors.SSORequiredError
	)
	return errors.As(err, &ev) || errors.As(err, &me) || errors.As(err, &mc) || errors.As(err, &os) || errors.As(err, &sso)
}

// classify turns an SDK error of operation op into an ABI error: 401 is a
// misconfigured key (unavailable), 404 not_found, 429 rate_limited, 5xx and
// transport failures unavailable, invalid_grant invalid_credentials.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if he, ok := httpError(err); ok {
		msg := he.Message
		switch {
		case he.Code == http.StatusUnauthorized && he.ErrorCode != "invalid_grant":
			return pdk.Errorf(abi.CodeUnavailable, "workos: %s: WorkOS rejected the API key (check api_key and client_id in the plugin config): %s", op, msg)
		case he.Code == http.StatusForbidden:
			return pdk.Errorf(abi.CodeUnavailable, "workos: %s: WorkOS refused the request (check the API key's permissions): %s", op, msg)
		case he.Code == http.StatusNotFound:
			return pdk.Errorf(abi.CodeNotFound, "workos: %s: not found: %s", op, msg)
		case he.Code == http.StatusTooManyRequests:
			return pdk.Errorf(abi.CodeRateLimited, "workos: %s: rate limited by WorkOS: %s", op, msg)
		case he.Code >= 500:
			return pdk.Errorf(abi.CodeUnavailable, "workos: %s: WorkOS is unavailable (HTTP %d): %s", op, he.Code, msg)
		case he.ErrorCode == "invalid_grant":
			return pdk.Errorf(abi.CodeInvalidCredentials, "workos: %s: %s", op, msg)
		case he.Code == http.StatusBadRequest || he.Code == http.StatusUnprocessableEntity:
			return pdk.Errorf(abi.CodeInvalidRequest, "workos: %s: WorkOS rejected the request (HTTP %d): %s", op, he.Code, msg)
		default:
			return pdk.Errorf(abi.CodeInternal, "workos: %s: unexpected HTTP %d: %s", op, he.Code, msg)
		}
	}
	if isAuthFlowError(err) {
		return pdk.Errorf(abi.CodeInvalidCredentials, "workos: %s: sign-in needs another step not supported by authhost: %v", op, err)
	}
	// Transport failures from pdk.Transport carry their ABI code
	// (unavailable or forbidden); anything else is an outage too.
	return pdk.WithCode(abi.CodeUnavailable, fmt.Errorf("workos: %s: %w", op, err))
}
