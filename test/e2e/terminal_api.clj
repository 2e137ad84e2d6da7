;; Run by TestTerminalAPI on a pseudo-terminal (101x37) that is the
;; controlling terminal of the client and the pod: reports the terminal,
;; toggles raw mode (checked with stty), and reads two lines in raw mode
;; that the test types; prints RESULT lines.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.terminal-api
  (:require [clojure.string :as str]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.terminal :as terminal])

(defn modes
  "The icanon and echo flags of the terminal, as stty shows them."
  []
  (let [p (.start (doto (ProcessBuilder. ["stty" "-a"])
                    (.redirectInput java.lang.ProcessBuilder$Redirect/INHERIT)))
        out (slurp (.getInputStream p))]
    (.waitFor p)
    (str/join " " (filter #{"icanon" "-icanon" "echo" "-echo" "isig" "-isig"} (str/split out #"\s+")))))

(println "SIZE" (terminal/is-terminal?) (terminal/get-width) (terminal/get-height))
(println "MODES-COOKED" (modes))
(terminal/enter-raw-mode)
(let [raw (modes)]
  (terminal/leave-raw-mode)
  (println "MODES-RAW" raw))
(println "MODES-RESTORED" (modes))
(print "Password: ")
(flush)
(let [line (terminal/raw-mode-readline)]
  (println)
  (println "READ" (some-> line str/reverse)))
(print "Again: ")
(flush)
(let [line (terminal/raw-mode-readline)]
  (println)
  (println "CANCELLED" (pr-str line)))
(println "RESULT done" (modes))
(flush)
(System/exit 0)
