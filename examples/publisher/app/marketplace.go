package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The Fulfillment API v2 wire shapes, as much of them as this publisher
// reads. Decoding ignores unknown fields, so Microsoft may add fields
// without breaking us.

// APIVersion is the Fulfillment API v2 version; every call carries it.
const APIVersion = "2018-08-31"

// saasSubscriptionStatus values.
const (
	statusPending      = "PendingFulfillmentStart"
	statusSubscribed   = "Subscribed"
	statusSuspended    = "Suspended"
	statusUnsubscribed = "Unsubscribed"
)

// Operation actions and statuses.
const (
	actionChangePlan     = "ChangePlan"
	actionChangeQuantity = "ChangeQuantity"
	actionSuspend        = "Suspend"
	actionReinstate      = "Reinstate"
	actionRenew          = "Renew"
	actionUnsubscribe    = "Unsubscribe"
	actionSubscribe      = "Subscribe" // a plan with automatic activation was bought

	opInProgress = "InProgress"
	opSucceeded  = "Succeeded"
	opFailed     = "Failed"
	opConflict   = "Conflict"

	sourceAzure   = "Azure"
	sourcePartner = "Partner"
)

type aadIdentifier struct {
	EmailID  string `json:"emailId"`
	ObjectID string `json:"objectId"`
	TenantID string `json:"tenantId"`
}

type term struct {
	TermUnit  string     `json:"termUnit"`
	StartDate *time.Time `json:"startDate,omitempty"`
	EndDate   *time.Time `json:"endDate,omitempty"`
}

type subscription struct {
	ID                        string        `json:"id"`
	OfferID                   string        `json:"offerId"`
	Name                      string        `json:"name"`
	SaasSubscriptionStatus    string        `json:"saasSubscriptionStatus"`
	Beneficiary               aadIdentifier `json:"beneficiary"`
	Purchaser                 aadIdentifier `json:"purchaser"`
	PlanID                    string        `json:"planId"`
	Quantity                  *int64        `json:"quantity,omitempty"`
	Term                      term          `json:"term"`
	AllowedCustomerOperations []string      `json:"allowedCustomerOperations"`
}

type resolvedSubscription struct {
	ID               string       `json:"id"`
	SubscriptionName string       `json:"subscriptionName"`
	OfferID          string       `json:"offerId"`
	PlanID           string       `json:"planId"`
	Quantity         *int64       `json:"quantity,omitempty"`
	Subscription     subscription `json:"subscription"`
}

type subscriptionPage struct {
	Subscriptions []subscription `json:"subscriptions"`
	NextLink      string         `json:"@nextLink,omitempty"`
}

type operation struct {
	ID                     string `json:"id"`
	SubscriptionID         string `json:"subscriptionId"`
	PlanID                 string `json:"planId"`
	Quantity               *int64 `json:"quantity,omitempty"`
	Action                 string `json:"action"`
	Status                 string `json:"status"`
	OperationRequestSource string `json:"operationRequestSource,omitempty"`
}

func (o operation) final() bool {
	return o.Status == opSucceeded || o.Status == opFailed || o.Status == opConflict
}

// activateRequest: planId always, quantity only for per-seat plans.
type activateRequest struct {
	PlanID   string `json:"planId,omitempty"`
	Quantity *int64 `json:"quantity,omitempty"`
}

// updateRequest is PATCH subscription: planId OR quantity, never both.
type updateRequest struct {
	PlanID   string `json:"planId,omitempty"`
	Quantity *int64 `json:"quantity,omitempty"`
}

// APIError is a marketplace answer other than the expected success.
type APIError struct {
	Method string
	URL    string
	Status int
	Body   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("marketplace %s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// apiStatus returns the marketplace status of err, 0 if it is not an APIError.
func apiStatus(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// correlation ids travel in the context: one per business flow.
type correlationKey struct{}

// withCorrelationID returns ctx carrying id (a fresh GUID when id is "").
func withCorrelationID(ctx context.Context, id string) context.Context {
	if id == "" {
		id = uuid.NewString()
	}
	return context.WithValue(ctx, correlationKey{}, id)
}

func correlationID(ctx context.Context) string {
	if id, ok := ctx.Value(correlationKey{}).(string); ok {
		return id
	}
	return uuid.NewString()
}

// tokenSource gives the bearer token for the Fulfillment API.
type tokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Client calls the Fulfillment API v2 from the backend.
type Client struct {
	base    *url.URL
	http    *http.Client
	tokens  tokenSource
	mistake Mistake
}

func newClient(base string, hc *http.Client, tokens tokenSource, mistake Mistake) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("marketplace URL %q: want an absolute URL", base)
	}
	return &Client{base: u, http: hc, tokens: tokens, mistake: mistake}, nil
}

// endpoint builds base + path with api-version.
func (c *Client) endpoint(path string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	if query == nil {
		query = url.Values{}
	}
	query.Set("api-version", APIVersion)
	u.RawQuery = query.Encode()
	return c.withVersion(u.String())
}

// follow checks a URL the API handed us (Operation-Location, @nextLink)
// before we send our bearer token to it: it must be on the marketplace's
// own scheme and host. A relative URL is resolved against the base.
func (c *Client) follow(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("marketplace returned an unusable link %q: %w", link, err)
	}
	u = c.base.ResolveReference(u)
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("marketplace returned a link to another host %q; not sending our token there", link)
	}
	return c.withVersion(u.String()), nil
}

// withVersion makes sure a URL carries api-version exactly once.
func (c *Client) withVersion(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	switch {
	case c.mistake == NoAPIVersion:
		// MISTAKE-06: the call goes out without api-version.
		q.Del("api-version")
	case q.Get("api-version") != "":
		return raw // a link from the API is used exactly as given
	default:
		q.Set("api-version", APIVersion)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends one call and returns the response with its body read. A status
// outside want is an *APIError.
func (c *Client) do(ctx context.Context, method, target string, body any, header http.Header, want ...int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("getting a token for the marketplace: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-ms-requestid", uuid.NewString())       // fresh for every call
	req.Header.Set("x-ms-correlationid", correlationID(ctx)) // shared by the flow
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, err
	}
	for _, s := range want {
		if resp.StatusCode == s {
			return resp, data, nil
		}
	}
	return resp, data, &APIError{Method: method, URL: target, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
}

func (c *Client) getJSON(ctx context.Context, target string, out any) error {
	data, err := c.getRetrying(ctx, target)
	if err != nil {
		return err
	}
	return decodeLenient(data, out)
}

// Retrying reads. A GET changes nothing, so one answered 500, 502, 503,
// 504 or 429 is simply asked again: after Retry-After when the answer names
// one, else after a short back-off that doubles. Changes (activate, PATCH,
// DELETE) are never retried blindly: the client cannot know whether the
// first attempt took effect.
const (
	getMaxAttempts = 5
	getFirstPause  = 100 * time.Millisecond
	getMaxPause    = 5 * time.Second
)

// transientStatus reports whether a status is worth asking again.
func transientStatus(s int) bool {
	switch s {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// getRetrying GETs target, retrying transient failures, and returns the
// body of the 200.
func (c *Client) getRetrying(ctx context.Context, target string) ([]byte, error) {
	pause := getFirstPause
	for attempt := 1; ; attempt++ {
		resp, data, err := c.do(ctx, http.MethodGet, target, nil, nil, http.StatusOK)
		if err == nil {
			return data, nil
		}
		// no-retry-on-5xx: the first transient failure is final.
		if c.mistake == NoRetryOnTransient || resp == nil || !transientStatus(resp.StatusCode) || attempt == getMaxAttempts {
			return nil, err
		}
		wait := pause
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
			wait = ra
		}
		pause = min(2*pause, getMaxPause)
		t := time.NewTimer(min(wait, getMaxPause))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

func decodeLenient(data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("marketplace answer is not the expected JSON: %w", err)
	}
	return nil
}

// Resolve exchanges a landing-page token for the subscription it names.
func (c *Client) Resolve(ctx context.Context, marketplaceToken string) (resolvedSubscription, error) {
	var out resolvedSubscription
	h := http.Header{"X-Ms-Marketplace-Token": {marketplaceToken}}
	_, data, err := c.do(ctx, http.MethodPost, c.endpoint("/saas/subscriptions/resolve", nil), nil, h, http.StatusOK)
	if err != nil {
		return out, err
	}
	return out, decodeLenient(data, &out)
}

// Activate starts billing for a subscription with the plan (and, for
// per-seat plans, the quantity) that resolve returned.
func (c *Client) Activate(ctx context.Context, id string, body activateRequest) error {
	_, _, err := c.do(ctx, http.MethodPost, c.endpoint("/saas/subscriptions/"+url.PathEscape(id)+"/activate", nil), body, nil, http.StatusOK)
	return err
}

// activateV1 is MISTAKE-05: the retired v1 activation.
func (c *Client) activateV1(ctx context.Context, id, marketplaceToken string, body activateRequest) error {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/saas/subscriptions/" + url.PathEscape(id)
	u.RawQuery = "api-version=2017-04-15"
	h := http.Header{"X-Ms-Marketplace-Token": {marketplaceToken}}
	_, _, err := c.do(ctx, http.MethodPut, u.String(), body, h, http.StatusOK)
	return err
}

// GetSubscription reads Microsoft's view of one subscription.
func (c *Client) GetSubscription(ctx context.Context, id string) (subscription, error) {
	var out subscription
	return out, c.getJSON(ctx, c.endpoint("/saas/subscriptions/"+url.PathEscape(id), nil), &out)
}

// ListPage reads one page of subscriptions: the first when next is "",
// else the @nextLink of the previous page, used as given.
func (c *Client) ListPage(ctx context.Context, next string) (subscriptionPage, error) {
	var out subscriptionPage
	target := c.endpoint("/saas/subscriptions", nil)
	if next != "" {
		var err error
		if target, err = c.follow(next); err != nil {
			return out, err
		}
	}
	return out, c.getJSON(ctx, target, &out)
}

// Update asks for a plan or quantity change and returns the
// Operation-Location to follow.
func (c *Client) Update(ctx context.Context, id string, body updateRequest) (string, error) {
	resp, _, err := c.do(ctx, http.MethodPatch, c.endpoint("/saas/subscriptions/"+url.PathEscape(id), nil), body, nil, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	return resp.Header.Get("Operation-Location"), nil
}

// Delete cancels a subscription and returns the Operation-Location.
func (c *Client) Delete(ctx context.Context, id string) (string, error) {
	resp, _, err := c.do(ctx, http.MethodDelete, c.endpoint("/saas/subscriptions/"+url.PathEscape(id), nil), nil, nil, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	return resp.Header.Get("Operation-Location"), nil
}

// GetOperation reads one operation of a subscription.
func (c *Client) GetOperation(ctx context.Context, subID, opID string) (operation, error) {
	var out operation
	return out, c.getJSON(ctx, c.endpoint("/saas/subscriptions/"+url.PathEscape(subID)+"/operations/"+url.PathEscape(opID), nil), &out)
}

// GetOperationAt reads the operation an Operation-Location names.
func (c *Client) GetOperationAt(ctx context.Context, location string) (operation, error) {
	var out operation
	target, err := c.follow(location)
	if err != nil {
		return out, err
	}
	return out, c.getJSON(ctx, target, &out)
}

// PatchOperation answers an operation Microsoft is waiting on:
// "Success" accepts it, "Failure" rejects it.
func (c *Client) PatchOperation(ctx context.Context, subID, opID, status string) error {
	body := map[string]string{"status": status}
	_, _, err := c.do(ctx, http.MethodPatch, c.endpoint("/saas/subscriptions/"+url.PathEscape(subID)+"/operations/"+url.PathEscape(opID), nil), body, nil, http.StatusOK)
	return err
}

// PollOperation follows an Operation-Location until the operation is final
// (Succeeded, Failed or Conflict) or ctx ends.
func (c *Client) PollOperation(ctx context.Context, location string, interval time.Duration) (operation, error) {
	if location == "" {
		return operation{}, errors.New("marketplace answered 202 without Operation-Location")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		op, err := c.GetOperationAt(ctx, location)
		if err != nil {
			return op, err
		}
		if op.final() {
			return op, nil
		}
		select {
		case <-ctx.Done():
			return op, fmt.Errorf("operation %s still %s: %w", op.ID, op.Status, ctx.Err())
		case <-t.C:
		}
	}
}
