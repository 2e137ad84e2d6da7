package bbssh

// State returns the command's state in the terms of an exec channel's
// (ExecState), for clients that look at a command through bbssh 0.6's
// channel-exec functions: connected until the command has ended, its
// output complete at the end, the exit status -1 until it is known.
func (p *Process) State() ExecState {
	r, ended := p.Exited()
	if !ended {
		return ExecState{Connected: true, Exit: -1}
	}
	return ExecState{Closed: true, EOF: true, Exit: r.ExitCode, Signal: r.Signal}
}

// NewChannelID numbers something seen as an exec channel (such as a
// command of Session.Exec) in the sequence ExecChannel IDs come from.
func NewChannelID() int { return int(channelIDs.Add(1) - 1) }

// Session returns the session the command runs on.
func (p *Process) Session() *Session { return p.session }
