(ns pod.epiccastle.bbssh.channel-exec
  "A low-level exec channel (bbssh 0.6, JSch's ChannelExec): make it with
  `session/open-channel`, set the command, the streams and the pty, then
  `connect` runs the command. Streams are pod streams (see the
  `input-stream`, `output-stream`, `byte-array-input-stream` and
  `byte-array-output-stream` namespaces); bytes flow between them and the
  server inside the pod.

    (def ch (session/open-channel s \"exec\"))
    (channel-exec/set-command ch \"sort\")
    (channel-exec/set-input-stream ch (byte-array-input-stream/new \"b\\na\\n\"))
    (def out (byte-array-output-stream/new))
    (channel-exec/set-output-stream ch out)
    (channel-exec/connect ch)
    (channel-exec/wait ch) ;; => 0
    (byte-array-output-stream/to-string out) ;; => \"a\\nb\\n\"

  For everyday commands, `pod.epiccastle.bbssh.core/exec` is simpler."
  (:require [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.channel-exec :as pod-channel]))

(defn set-command
  "Sets the command line that `connect` runs.

    (channel-exec/set-command ch \"ls -l /\")"
  [channel command]
  (pod-channel/set-command channel command)
  nil)

(defn connect
  "Opens the channel and starts the command; returns at once. Throws
  `:bbssh/exec-failed` when the server refuses.

    (channel-exec/connect ch)"
  [channel]
  (pod-channel/connect channel)
  nil)

(defn disconnect
  "Closes the channel; a command still running gets a hangup.

    (channel-exec/disconnect ch)"
  [channel]
  (pod-channel/disconnect channel)
  nil)

(defn set-input-stream
  "Sets the command's stdin to a pod input stream, read until its end,
  which sends end of file; nil means no input (end of file at once, as
  `ssh -n`). Unless `dont-close?`, the stream is closed when the channel
  ends.

    (channel-exec/set-input-stream ch (byte-array-input-stream/new \"data\"))"
  ([channel input-stream]
   (set-input-stream channel input-stream false))
  ([channel input-stream dont-close?]
   (pod-channel/set-input-stream channel input-stream (boolean dont-close?))
   nil))

(defn set-output-stream
  "Sets where the command's stdout goes: a pod output stream (nil drops
  it). Unless `dont-close?`, the stream is closed at the end of the
  output.

    (channel-exec/set-output-stream ch (byte-array-output-stream/new))"
  ([channel output-stream]
   (set-output-stream channel output-stream false))
  ([channel output-stream dont-close?]
   (pod-channel/set-output-stream channel output-stream (boolean dont-close?))
   nil))

(defn set-error-stream
  "Sets where the command's stderr goes, as `set-output-stream`. Without
  it (or `get-error-stream`) stderr is dropped.

    (channel-exec/set-error-stream ch (byte-array-output-stream/new))"
  ([channel error-stream]
   (set-error-stream channel error-stream false))
  ([channel error-stream dont-close?]
   (pod-channel/set-error-stream channel error-stream (boolean dont-close?))
   nil))

(defn get-input-stream
  "The command's stdout as a pod input stream to read (`input-stream/read`,
  or `input-stream/make-proxy` for a java.io.InputStream). Call it before
  `connect`.

    (def out (channel-exec/get-input-stream ch))"
  [channel]
  (cleaner/register (pod-channel/get-input-stream channel)))

(defn get-output-stream
  "The command's stdin as a pod output stream to write; closing it sends
  end of file. Call it before `connect`.

    (def in (channel-exec/get-output-stream ch))"
  [channel]
  (cleaner/register (pod-channel/get-output-stream channel)))

(defn get-error-stream
  "The command's stderr as a pod input stream to read. Call it before
  `connect`.

    (def err (channel-exec/get-error-stream ch))"
  [channel]
  (cleaner/register (pod-channel/get-error-stream channel)))

(defn set-pty
  "Asks for a pseudo-terminal (type vt100, 80x24, unless set otherwise).

    (channel-exec/set-pty ch true)"
  [channel enable]
  (pod-channel/set-pty channel (boolean enable))
  nil)

(defn set-pty-size
  "Sets the pty's size in characters and pixels; on a running command it
  tells the server the window changed.

    (channel-exec/set-pty-size ch 132 43 1056 688)"
  [channel col row width-pixels height-pixels]
  (pod-channel/set-pty-size channel col row width-pixels height-pixels)
  nil)

(defn set-pty-type
  "Sets the pty's terminal type (TERM on the server), and its size.

    (channel-exec/set-pty-type ch \"xterm-256color\")
    (channel-exec/set-pty-type ch \"xterm\" 80 24 640 480)"
  ([channel terminal-type]
   (pod-channel/set-pty-type channel terminal-type)
   nil)
  ([channel terminal-type col row width-pixels height-pixels]
   (pod-channel/set-pty-type channel terminal-type col row width-pixels height-pixels)
   nil))

(defn set-terminal-mode
  "Sets the pty's terminal modes as encoded bytes (RFC 4254 section 8:
  an opcode byte and a 4-byte big-endian value each, ended by 0).

    ;; ECHO (53) off
    (channel-exec/set-terminal-mode ch (byte-array [53 0 0 0 0 0]))"
  [channel terminal-mode]
  (pod-channel/set-terminal-mode channel (utils/encode-base64 terminal-mode))
  nil)

(defn set-agent-forwarding
  "Forwards the local ssh-agent (SSH_AUTH_SOCK) to the command, as `ssh -A`.

    (channel-exec/set-agent-forwarding ch true)"
  [channel enable]
  (pod-channel/set-agent-forwarding channel (boolean enable))
  nil)

(defn set-x-forwarding
  "X11 forwarding, as `ssh -X`: when DISPLAY is not set nothing is asked
  for, as ssh does; with a DISPLAY it throws `:bbssh/unsupported`.

    (channel-exec/set-x-forwarding ch false)"
  [channel enable]
  (pod-channel/set-x-forwarding channel (boolean enable))
  nil)

(defn set-env
  "Sets an environment variable for the command; the server's AcceptEnv
  decides whether it is honoured.

    (channel-exec/set-env ch \"LANG\" \"C.UTF-8\")"
  [channel name value]
  (pod-channel/set-env channel name value)
  nil)

(defn is-closed
  "True once the channel is closed: the command ended, or `disconnect`.

    (channel-exec/is-closed ch) ;; => false"
  [channel]
  (true? (pod-channel/is-closed channel)))

(defn is-connected
  "True while the channel is connected and open.

    (channel-exec/is-connected ch) ;; => true"
  [channel]
  (true? (pod-channel/is-connected channel)))

(defn is-eof
  "True once the command's stdout has ended.

    (channel-exec/is-eof ch) ;; => true"
  [channel]
  (true? (pod-channel/is-eof channel)))

(defn send-signal
  "Sends a signal to the command: \"TERM\", \"KILL\", \"INT\", \"HUP\"...

    (channel-exec/send-signal ch \"TERM\")"
  [channel signal]
  (pod-channel/send-signal channel signal)
  nil)

(defn get-exit-status
  "The command's exit status; -1 until it is known, and for a command
  killed by a signal.

    (channel-exec/get-exit-status ch) ;; => 0"
  [channel]
  (pod-channel/get-exit-status channel))

(defn get-id
  "The channel's number.

    (channel-exec/get-id ch) ;; => 3"
  [channel]
  (pod-channel/get-id channel))

(defn wait
  "Waits until the command has ended and its output is delivered, and
  returns its exit status (-1 when it was killed by a signal). With
  `timeout` (ms) it returns nil if the command is still running by then;
  0 or less only looks. Throws `:bbssh/closed` when the channel ended
  without an exit status (lost connection, `disconnect`), so it never
  waits for ever on a dead connection.

    (channel-exec/wait ch)        ;; => 0
    (channel-exec/wait ch 100)    ;; => nil while running"
  ([channel]
   (pod-channel/wait channel))
  ([channel timeout]
   (when-not (integer? timeout)
     (utils/bad-option "the timeout of wait must be milliseconds (an integer), got " (utils/describe timeout)))
   (pod-channel/wait channel timeout)))
