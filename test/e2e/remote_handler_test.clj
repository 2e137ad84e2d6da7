;; A remote forward served in the script: sshd listens, and each connection
;; is handed to a Clojure function with input and output streams, through
;; babashka.pods/invoke with :handlers, as babashka runs it.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.remote-handler-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.pod.registry :as registry])

(def s (bbssh/ssh c/host (c/opts)))

(defn read-all ^String [port]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (.setSoTimeout sock 10000)
    (slurp (.getInputStream sock))))

(deftest echo-served-by-a-handler
  (let [before (set (registry/handles))
        seen (atom [])
        rport (session/set-port-forwarding-remote
               s {:remote-port 0
                  :handler (fn [{:keys [in out] :as info}]
                             (swap! seen conj (dissoc info :in :out))
                             (io/copy in out)
                             (.close out))})]
    (is (pos? rport))
    (is (= [{:remote-port rport :handler true}] (session/get-port-forwarding-remote s)))
    (is (n/round-trip "127.0.0.1" rport (* 8 1024 1024) 1) "8 MiB each way through the handler")
    (let [[info] @seen]
      (is (= rport (:remote-port info)))
      (is (= "127.0.0.1" (:origin-address info)))
      (is (pos-int? (:origin-port info))))
    (testing "many connections at once"
      (let [jobs (doall (for [i (range 20)]
                          (future (n/round-trip "127.0.0.1" rport (+ 100 (* i 7919)) (+ 10 i)))))]
        (is (every? true? (map deref jobs)))))
    (is (= 21 (:total-connections (meta (first (session/get-port-forwarding-remote s))))))
    (session/delete-port-forwarding-remote s {:remote-port rport})
    (is (= [] (session/get-port-forwarding-remote s)))
    ;; (handles are compared, not counts: the cleaner may free an earlier
    ;; test's dropped handle meanwhile)
    (is (n/wait-until 5000 #(empty? (remove before (registry/handles)))) "every connection handle was freed")))

(deftest handler-that-writes-and-returns
  (let [rport (session/set-port-forwarding-remote
               s {:remote-port 0
                  :handler (fn [{:keys [out remote-port]}]
                             (.write out (.getBytes (str "hello from " remote-port))))})]
    (is (= (str "hello from " rport) (read-all rport)) "the connection closes when the handler returns")
    (is (= (str "hello from " rport) (read-all rport)))
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(deftest a-failing-handler-closes-its-connection-only
  (let [calls (atom 0)
        rport (session/set-port-forwarding-remote
               s {:remote-port 0
                  :handler (fn [{:keys [out]}]
                             (if (= 1 (swap! calls inc))
                               (throw (ex-info "boom" {}))
                               (.write out (.getBytes "fine"))))})]
    (is (= "" (read-all rport)))
    (is (= "fine" (read-all rport)) "the forward keeps serving")
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(deftest handler-on-a-remote-unix-socket
  (let [dir (n/temp-dir)
        _ (java.nio.file.Files/setPosixFilePermissions (.toPath (io/file dir))
                                                       (java.nio.file.attribute.PosixFilePermissions/fromString "rwxrwxrwx"))
        sock (str dir "/handled.sock")]
    (is (= 0 (session/set-port-forwarding-remote
              s {:remote-unix-socket sock
                 :handler (fn [{:keys [in out]}] (io/copy in out))})))
    (is (n/wait-until 5000 #(.exists (io/file sock))))
    (is (n/unix-round-trip sock 1000000 2))
    (session/delete-port-forwarding-remote s {:remote-unix-socket sock})))

(deftest handler-errors
  (is (= :bbssh/forward-failed
         (-> (ex #(session/set-port-forwarding-remote s {:remote-port 80 :handler (fn [_])})) :data :type))
      "the server refuses a privileged port")
  (is (= :bbssh/bad-option
         (-> (ex #(session/set-port-forwarding-remote s {:remote-port 0 :local-port 9 :handler (fn [_])})) :data :type))
      "a handler forward has no local target")
  (is (= :bbssh/unknown-handle
         (-> (ex #(session/set-port-forwarding-remote :bbssh/session-77 {:remote-port 0 :handler (fn [_])})) :data :type))))

(deftest handler-forward-at-connect
  (let [s2 (bbssh/ssh c/host (c/opts {:port-forward-remote [{:remote-port 0
                                                              :handler (fn [{:keys [out]}] (.write out (.getBytes "at connect")))}]}))
        [{:keys [remote-port]}] (session/get-port-forwarding-remote s2)]
    (is (= "at connect" (read-all remote-port)))
    (session/disconnect s2)))

(c/run-tests-and-exit 'e2e.remote-handler-test)
