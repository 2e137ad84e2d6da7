;; Run by TestTerminalPrompts: connects with nothing to log in with, so the
;; pod must ask on the terminal. BBSSH_PROMPT_CASE says what the test types
;; (answer, cancel, hostkey) or that there is no terminal (none); the
;; script prints RESULT and what happened.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.terminal-prompt
  (:require [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh])

(def case-name (c/env "BBSSH_PROMPT_CASE"))

(def opts
  (if (= "hostkey" case-name)
    (c/opts {:known-hosts (c/env "BBSSH_PROMPT_KNOWN_HOSTS")})
    {:port c/port :username c/user :known-hosts (c/env "BBSSH_TEST_KNOWN_HOSTS")
     :no-agent true :identities-only true :config-file false}))

(println "RESULT"
         (try
           (let [s (bbssh/ssh c/host opts)]
             (str "connected " (:out @(bbssh/exec s "echo ok" {:out :string}))))
           (catch clojure.lang.ExceptionInfo e
             (str (:type (ex-data e)) " " (ex-message e)))))
(flush)
(System/exit 0)
