package marketplace

import (
	"net/http"
)

// The operation handlers (CONTRACT §1, Operations APIs).

func (m *Marketplace) listOperations(c *call) {
	c.lock()
	r := m.st.sub(c.subID)
	if r == nil {
		c.notFound("subscription")
		return
	}
	out := OperationList{Operations: []Operation{}}
	if m.cfg.profile.IsProduction() {
		// Reported since 2019: the list is always empty; the operation
		// ids come from the webhook and Operation-Location.
		c.respond(http.StatusOK, out)
		return
	}
	for _, o := range r.ops {
		if o.op.Status != OpInProgress {
			continue
		}
		if m.cfg.outstandingOnlyReinstate && o.op.Action != ActionReinstate {
			continue
		}
		out.Operations = append(out.Operations, cloneOperation(o.op))
	}
	c.respond(http.StatusOK, out)
}

func (m *Marketplace) getOperation(c *call) {
	c.lock()
	o := m.lookupOp(c)
	if o == nil {
		return
	}
	c.respond(http.StatusOK, cloneOperation(o.op))
}

func (m *Marketplace) updateOperation(c *call) {
	c.lock()
	o := m.lookupOp(c)
	if o == nil {
		return
	}
	var req UpdateOperation
	if err := c.decode(&req); err != nil {
		c.fail(http.StatusBadRequest, "BadArgument", "body", "the body is not valid JSON: "+err.Error())
		return
	}
	var want OperationStatus
	switch req.Status {
	case "Success":
		want = OpSucceeded
	case "Failure":
		want = OpFailed
	default:
		c.fail(http.StatusBadRequest, "BadArgument", "status", `status must be "Success" or "Failure"`)
		return
	}
	if o.op.Status.Final() {
		c.violate(broke("FUL-OP-01", "PATCH operation after it was final", "status", string(o.op.Status), string(OpInProgress),
			"answer within the ack window, and GET the operation first: a final operation cannot be changed"))
		c.fail(http.StatusConflict, "Conflict", "", "the operation is already "+string(o.op.Status))
		return
	}
	if !o.patchable() {
		c.violate(broke("FUL-OP-01", "PATCH operation on a "+string(o.op.OperationRequestSource)+" "+string(o.op.Action)+" operation",
			"action", string(o.op.Action), "a customer ChangePlan, ChangeQuantity or Reinstate",
			"PATCH only the operations the webhook asked about; poll your own PATCH/DELETE operations with GET"))
		c.fail(http.StatusBadRequest, "BadArgument", "", "this operation does not take a publisher answer")
		return
	}
	if got := m.finishLocked(o, want, c.now); got != want {
		// Not the publisher's fault: the subscription moved on (e.g. it was
		// suspended) while the change waited.
		c.fail(http.StatusConflict, "Conflict", "", "the subscription changed since the operation started; it ended "+string(got))
		return
	}
	c.empty(http.StatusOK)
}

// lookupOp finds the operation the path names, answering 404 when the
// subscription or the operation is unknown (or the operation belongs to
// another subscription). The caller holds the lock.
func (m *Marketplace) lookupOp(c *call) *opRecord {
	if m.st.sub(c.subID) == nil {
		c.notFound("subscription")
		return nil
	}
	o := m.st.op(c.subID, c.r.PathValue("opId"))
	if o == nil {
		c.notFound("operation")
	}
	return o
}
