;; Run one command on several hosts at once and report each one's output
;; and exit code; exits 1 if any host failed.
;;
;;   bb examples/parallel_exec.clj "COMMAND" HOST...
;;
;;   bb examples/parallel_exec.clj "uptime" web1 web2 web3
;;
;; Each host gets its own session, connected in parallel. The pod is
;; $BBSSH_POD, else `bbssh` on the PATH.
(require '[babashka.pods :as pods]
         '[clojure.string :as str])
(pods/load-pod (or (System/getenv "BBSSH_POD") "bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(defn run-on
  "Runs command on host; returns {:host :exit :out :err} or {:host :error}."
  [host command]
  (try
    (let [s (bbssh/ssh host {:connect-timeout 10000})]
      (try
        (assoc (select-keys @(bbssh/exec s command {:out :string :err :string}) [:exit :out :err])
               :host host)
        (finally (session/disconnect s))))
    (catch clojure.lang.ExceptionInfo e
      {:host host :error (ex-message e)})))

(let [[command & hosts] *command-line-args*]
  (when (or (str/blank? command) (empty? hosts))
    (binding [*out* *err*] (println "usage: parallel_exec.clj \"COMMAND\" HOST..."))
    (System/exit 2))
  (let [results (->> hosts (mapv #(future (run-on % command))) (mapv deref))]
    (doseq [{:keys [host exit out err error]} results]
      (if error
        (println (format "%s: FAILED: %s" host error))
        (do (doseq [line (str/split-lines out)] (println (str host ": " line)))
            (doseq [line (remove str/blank? (str/split-lines (or err "")))] (println (str host " (stderr): " line)))
            (println (format "%s: exit %d" host exit)))))
    (let [bad (filter #(or (:error %) (not= 0 (:exit %))) results)]
      (println (format "%d of %d hosts succeeded" (- (count results) (count bad)) (count results)))
      (System/exit (if (seq bad) 1 0)))))
