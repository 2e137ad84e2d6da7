;; Loads the pod as a user does, opens a session with a -L forward to the
;; echo server on BBSSH_ECHO_PORT and a command that runs until its session
;; ends, prints READY with the forward's port, then either waits to be
;; killed (BBSSH_BB_END=wait) or, after a line on stdin, ends the script
;; without closing anything (BBSSH_BB_END=return), leaving babashka to
;; unload the pod.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(require '[e2e.common :as c])
(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))
(def port (session/set-port-forwarding-local
           s {:local-port 0 :remote-host "127.0.0.1"
              :remote-port (Integer/parseInt (c/env "BBSSH_ECHO_PORT"))}))
(def running (bbssh/exec s "cat" {:in :stream :env {"BBSSH_FAULT_MARK" (c/env "BBSSH_FAULT_MARK")}}))
(println "READY" port)
(flush)
(if (= "wait" (c/env "BBSSH_BB_END"))
  @(promise)
  (read-line))
