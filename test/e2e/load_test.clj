;; Load through the real sshd: 1000 connections at once through one local
;; forward and 500 through one remote forward, 1 MiB each way on every one,
;; sha256 verified; then 20 sessions at once, each with commands, scp,
;; sftp streams and forwards running, closed mid-flight, after which the
;; pod's goroutines, file descriptors and handles are back at their
;; baseline.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.load-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n])
  (:import [java.net Socket]
           [java.security MessageDigest]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.pod.registry :as registry]
         '[pod.epiccastle.bbssh.pod.debug :as debug])

(def mib (* 1024 1024))
;; the fastest cipher here: the test is about many streams, not crypto
(def fast {:connection-options {:cipher "aes128-gcm@openssh.com"}})
(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))
(def home (c/env "BBSSH_TEST_HOME"))

;; ---------------------------------------------------------------- streams

(defn- sha-stream
  "Writes n bytes of the sequence of seed to sock (64 KiB at a time, so a
  thousand streams need little memory) while reading its echo; true when
  all n bytes came back with the sha256 of what was sent."
  [^Socket sock n seed]
  (with-open [sock sock]
    (let [out (.getOutputStream sock)
          writer (future
                   (let [md (MessageDigest/getInstance "SHA-256")
                         rnd (java.util.Random. seed)
                         buf (byte-array 65536)]
                     (loop [left n]
                       (when (pos? left)
                         (.nextBytes rnd buf)
                         (let [k (int (min left (alength buf)))]
                           (.write out buf 0 k)
                           (.update md buf 0 k)
                           (recur (- left k)))))
                     (.shutdownOutput sock)
                     (vec (.digest md))))
          in (.getInputStream sock)
          md (MessageDigest/getInstance "SHA-256")
          buf (byte-array 65536)
          got (loop [total 0]
                (let [k (.read in buf)]
                  (if (neg? k) total (do (.update md buf 0 k) (recur (+ total k))))))]
      (and (= n got) (= @writer (vec (.digest md)))))))

(defn- forward-stats [get-fn s]
  (meta (first (get-fn s))))

(defn- all-at-once
  "Opens k connections to port, waits until the forward (read with
  get-fn) carries all k at the same moment, then moves 1 MiB each way on
  every one at once. Returns {:ok n :failed [...] :peak active}."
  [get-fn s port k]
  (let [socks (mapv (fn [_] (doto (Socket. "127.0.0.1" (int port)) (.setSoTimeout 120000))) (range k))
        peak (n/wait-until 30000 #(let [a (:active-connections (forward-stats get-fn s))] (when (= k a) a)))
        jobs (mapv (fn [i sock] (future (try (sha-stream sock mib (+ 7000 i)) (catch Exception e (str e)))))
                   (range) socks)
        results (mapv deref jobs)]
    {:ok (count (filter true? results)) :failed (remove true? results) :peak peak}))

;; ---------------------------------------------------------------- leaks

(defn stats [] (select-keys (debug/stats) [:goroutines :fds :handles]))

(defn settle
  "Polls the pod's figures every 100 ms for at most 15 s until those named
  by ks (all by default) equal want's; returns the last figures, and
  prints the goroutines and descriptors when they never did. Closing is
  asynchronous (connections drain, goroutines return), hence the polling;
  the figures must then be exactly the baseline: no slack, a leak of one
  goroutine fails."
  ([want] (settle want (keys want)))
  ([want ks]
   (loop [left 150]
     (let [now (stats)]
       (cond
         (= (select-keys want ks) (select-keys now ks)) now
         (zero? left) (do (println "  not settled:" now "want" want)
                          (println (debug/goroutines))
                          (println (str/join "\n" (debug/fds)))
                          now)
         :else (do (Thread/sleep 100) (recur (dec left))))))))

(defn- warm-up!
  "One session with a command, an scp each way and both forwards, then
  closed: whatever the runtime starts once and keeps (the resolver, the
  data channel machinery) is then part of the baseline."
  []
  (let [s (bbssh/ssh c/host (c/opts fast))
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})]
    (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))
    (scp/scp-to [["warm" {:filename "load-warm"}]] "." {:session s})
    (is (n/round-trip "127.0.0.1" lport 1000 1))
    (is (n/round-trip "127.0.0.1" rport 1000 2))
    (session/disconnect s)
    (registry/release s)))

(defn stable
  "The pod's figures once they have not moved for half a second (at most
  15 s of polling)."
  []
  (loop [last (stats), same 0, left 150]
    (Thread/sleep 100)
    (let [now (stats)]
      (cond (= same 5) now
            (zero? left) now
            :else (recur now (if (= now last) (inc same) 0) (dec left))))))

;; 1000 connections hold about 1000 descriptors in each of the client,
;; the pod and sshd's process for the connection; the pod and the JVM
;; raise their own limit, sshd keeps the one it was started with.
(let [s (bbssh/ssh c/host (c/opts))
      limits (-> (bbssh/exec s "cat /proc/$PPID/limits" {:out :string}) deref :out)
      limit (some->> limits (re-find #"Max open files\s+(\d+)") second Long/parseLong)]
  (session/disconnect s)
  (registry/release s)
  (println "  open-file limit of sshd's connection process:" limit)
  (when (and limit (< limit 1200))
    (println "  too low for 1000 connections: raise the soft `ulimit -n` to at least 1200")
    (System/exit 1)))

(warm-up!)
(def baseline (stable))
(println "  baseline" baseline)

;; ---------------------------------------------------------------- tests

(deftest a-thousand-connections-through-one-local-forward
  (let [s (bbssh/ssh c/host (c/opts fast))
        port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        started (System/nanoTime)
        {:keys [ok failed peak]} (all-at-once session/get-port-forwarding-local s port 1000)
        secs (/ (- (System/nanoTime) started) 1e9)]
    (println (format "  -L: %d of 1000 intact (%d open at once), 2 x 1000 MiB in %.1f s; pod %s"
                     ok (or peak 0) secs (debug/stats)))
    (is (= 1000 peak) "all 1000 connections were open at the same time")
    (is (= 1000 ok) (str "failed: " (pr-str (take 5 failed))))
    (is (= {:total-connections 1000 :bytes-out (* 1000 mib) :bytes-in (* 1000 mib)}
           (select-keys (forward-stats session/get-port-forwarding-local s) [:total-connections :bytes-out :bytes-in]))
        "the forward counted every byte")
    (session/disconnect s)
    (registry/release s)
    (is (= baseline (settle baseline)) "goroutines, fds and handles back at the baseline")))

(deftest five-hundred-connections-through-one-remote-forward
  (let [s (bbssh/ssh c/host (c/opts fast))
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})
        started (System/nanoTime)
        {:keys [ok failed peak]} (all-at-once session/get-port-forwarding-remote s rport 500)
        secs (/ (- (System/nanoTime) started) 1e9)]
    (println (format "  -R: %d of 500 intact (%d open at once), 2 x 500 MiB in %.1f s" ok (or peak 0) secs))
    (is (= 500 peak) "all 500 connections were open at the same time")
    (is (= 500 ok) (str "failed: " (pr-str (take 5 failed))))
    (is (= {:total-connections 500 :bytes-out (* 500 mib) :bytes-in (* 500 mib)}
           (select-keys (forward-stats session/get-port-forwarding-remote s) [:total-connections :bytes-out :bytes-in])))
    (session/disconnect s)
    (registry/release s)
    (is (= baseline (settle baseline)) "goroutines, fds and handles back at the baseline")))

(defn- sha256-hex [^bytes bs]
  (apply str (map #(format "%02x" (bit-and % 0xff)) (.digest (MessageDigest/getInstance "SHA-256") bs))))

(defn- busy-session
  "A session with everything running at once: a finished command, scp
  each way and a forwarded megabyte each way, then left busy with a
  command reading its stdin, an scp upload stalled halfway, an sftp
  download and upload half done, and a connection held open on each
  forward. Returns what must end when the
  session is closed."
  [i]
  (let [s (bbssh/ssh c/host (c/opts))
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})
        data (let [bs (byte-array mib)] (.nextBytes (java.util.Random. i) bs) bs)
        fname (str "load-" i "-" (System/nanoTime))
        back (java.io.File/createTempFile "load" ".bin")]
    (scp/scp-to [[data {:filename fname}]] "." {:session s})
    (scp/scp-from fname (str back) {:session s})
    (let [remote-sum (-> (bbssh/exec s (str "sha256sum " fname) {:out :string}) deref :out)
          local (java.nio.file.Files/readAllBytes (.toPath back))]
      (.delete back)
      @(bbssh/exec s (str "rm -f " fname) {:out :discard})
      ;; what keeps running
      (let [cat (bbssh/exec s "cat" {:in :stream :out :stream})
            _ (.write ^java.io.OutputStream (:in cat) (.getBytes "ping\n"))
            _ (.flush ^java.io.OutputStream (:in cat))
            pong (let [b (byte-array 5)] (.readNBytes ^java.io.InputStream (:out cat) b 0 5) (String. b))
            pipe-out (java.io.PipedOutputStream.)
            pipe-in (java.io.PipedInputStream. pipe-out (* 64 1024))
            stalled (future (try (scp/scp-to [[pipe-in {:filename (str fname ".stalled") :size (* 8 mib)}]] "." {:session s})
                                 :finished
                                 (catch Exception e (or (:type (ex-data e)) :error))))
            _ (.write pipe-out (byte-array mib))
            _ @(bbssh/exec s (str "head -c 4194304 /dev/zero > " fname ".big") {:out :discard})
            sftp-in (sftp/input-stream s (str fname ".big"))
            _ (.readNBytes ^java.io.InputStream sftp-in 1000)
            sftp-out (doto ^java.io.OutputStream (sftp/output-stream s (str fname ".sftp"))
                       (.write (byte-array 100000))
                       (.flush))
            held (mapv (fn [p] (let [sock (doto (Socket. "127.0.0.1" (int p)) (.setSoTimeout 30000))]
                                 (.write (.getOutputStream sock) (.getBytes "held"))
                                 (.readNBytes (.getInputStream sock) 4)
                                 sock))
                       [lport rport])]
        {:s s
         :checks {:scp-round-trip (str/starts-with? remote-sum (sha256-hex data))
                  :scp-back (java.util.Arrays/equals ^bytes data ^bytes local)
                  :local-forward (n/round-trip "127.0.0.1" lport mib (+ 100 i))
                  :remote-forward (n/round-trip "127.0.0.1" rport mib (+ 200 i))
                  :exec-stream (= "ping\n" pong)}
         :stalled stalled :pipe pipe-out :held held :cat cat :fname fname :sftp [sftp-in sftp-out]}))))

(deftest twenty-busy-sessions-closed-leave-nothing-behind
  (let [busy (mapv deref (mapv #(future (busy-session %)) (range 20)))
        during (stats)]
    (println "  20 busy sessions:" during)
    (is (every? #(every? true? (vals (:checks %))) busy) (pr-str (map :checks busy)))
    (is (> (:goroutines during) (+ (:goroutines baseline) 20)) "the sessions were really running")
    (is (every? #(not (realized? (:stalled %))) busy) "every scp upload was still in flight")
    ;; close them all at once, mid-flight
    (is (not-any? #{:hung} (mapv #(deref % 30000 :hung) (mapv #(future (session/disconnect (:s %))) busy)))
        "every disconnect returned")
    (testing "what was running ends with the session"
      (is (every? (fn [{:keys [held]}]
                    (every? (fn [^Socket sock]
                              (contains? #{-1 :reset} (try (.read (.getInputStream sock)) (catch java.net.SocketException _ :reset))))
                            held))
                  busy)
          "held forwarded connections were closed")
      (is (every? #(contains? #{-1 :reset} (try (.read ^java.io.InputStream (:out (:cat %)))
                                                (catch java.net.SocketException _ :reset)))
                  busy)
          "the running commands' output ended (cut: reset)"))
    ;; the script still holds its ends (a command's stdin, a stalled
    ;; upload's source, forwarded sockets): the pod must not wait for them
    (let [after-disconnect (settle baseline [:goroutines :fds])]
      (println "  after disconnect:" after-disconnect)
      (is (= (select-keys baseline [:goroutines :fds]) (select-keys after-disconnect [:goroutines :fds]))
          "disconnect alone gives back every goroutine and descriptor"))
    (doseq [{:keys [pipe held cat sftp]} busy]
      (run! #(try (.close ^java.io.Closeable %) (catch Exception _ nil)) sftp)
      (.close ^java.io.OutputStream pipe)
      (try (.close ^java.io.OutputStream (:in cat)) (catch java.io.IOException _ nil))
      (run! #(.close ^Socket %) held))
    (let [ends (mapv #(deref (:stalled %) 10000 :hung) busy)]
      (is (every? #(and (keyword? %) (not (#{:finished :hung} %))) ends)
          (str "every stalled upload failed: " (frequencies ends))))
    (run! #(registry/release (:s %)) busy)
    (let [after (settle baseline)]
      (println "  after release:" after "baseline:" baseline)
      (is (= baseline after) "goroutines, fds and handles back at the baseline"))
    (let [s (bbssh/ssh c/host (c/opts))]
      @(bbssh/exec s (str "rm -f " home "/load-*") {:out :discard})
      (session/disconnect s)
      (registry/release s))))

(c/run-tests-and-exit 'e2e.load-test)
