;; pod.epiccastle.bbssh.terminal without a terminal (the harness runs
;; scripts in a session of their own, output to a pipe): what each
;; function does then. On a real pseudo-terminal: terminal_api.clj, run by
;; TestTerminalAPI.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.terminal-test
  (:require [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.terminal :as terminal])

(defn ex [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e (assoc (ex-data e) :message (ex-message e)))))

(deftest no-terminal
  (is (false? (terminal/is-terminal?)))
  (is (= 0 (terminal/get-width)))
  (is (= 0 (terminal/get-height)))
  (let [e (ex #(terminal/enter-raw-mode))]
    (is (= :bbssh/no-terminal (:type e)))
    (is (re-find #"no terminal" (:message e)) (:message e)))
  (is (false? (terminal/enter-raw-mode 1)) "quiet: false instead of an error")
  (is (nil? (terminal/leave-raw-mode)) "nothing to restore")
  (is (nil? (terminal/leave-raw-mode 1))))

(deftest constants
  (is (= 3 terminal/ctrl-c))
  (is (= 10 terminal/carriage-return)))

(deftest readline-without-a-terminal
  (testing "reads a plain line from *in*"
    (is (= "abc" (binding [*in* (java.io.StringReader. "abc\ndef\n")] (terminal/raw-mode-readline))))
    (is (= "ab" (binding [*in* (java.io.StringReader. "abx\u007f\r")] (terminal/raw-mode-readline))) "backspace, carriage return")
    (is (nil? (binding [*in* (java.io.StringReader. "ab\u0003cd\n")] (terminal/raw-mode-readline))) "Ctrl-C gives nil")
    (is (= "tail" (binding [*in* (java.io.StringReader. "tail")] (terminal/raw-mode-readline))) "the end of input ends the line")
    (is (nil? (terminal/raw-mode-readline)) "stdin is empty here")))

(c/run-tests-and-exit 'e2e.terminal-test)
