;; Soak: cycles sessions through everything a script does, for a bounded
;; time, and checks that the pod gives back what each cycle took.
;;
;;   ./build.sh soak [minutes]        (default 3)
;;
;; Each cycle connects a session (with a :debug-fn), starts a local, a
;; remote, a dynamic and a handled remote forward, moves sha256-checked
;; bytes through them from several connections at once, runs commands
;; (captured, streamed, stdin fed), copies with scp and sftp both ways
;; (files, bytes, streams), then disconnects and frees the session; every
;; fifth cycle disconnects with everything still running instead.
;; Every `sample-every` cycles the pod's figures are read once it is idle:
;; goroutines, open descriptors and live handles must come back to the
;; baseline exactly (within a settle time), and the live heap after a
;; collection must not grow. Exits 1 on a leak, after printing the samples.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns bench.soak
  (:require [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n])
  (:import [java.net InetSocketAddress Proxy Proxy$Type Socket]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.pod.registry :as registry]
         '[pod.epiccastle.bbssh.pod.debug :as debug])

(def seconds (Long/parseLong (or (System/getenv "BBSSH_SOAK_SECONDS") "180")))
(def sample-every 10)
(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))
(def local-dir (n/temp-dir))
(def home (c/env "BBSSH_TEST_HOME"))
(def failures (atom []))

(defn check [what ok]
  (when-not ok (swap! failures conj what))
  ok)

(defn figures [] (select-keys (debug/stats) [:goroutines :fds :handles]))

(defn settle
  "The pod's figures once they equal want (polled for at most 15 s)."
  [want]
  (loop [left 150]
    (let [now (figures)]
      (if (or (= want now) (zero? left))
        now
        (do (Thread/sleep 100) (recur (dec left)))))))

(defn stable
  "The pod's figures once they have not moved for half a second."
  []
  (loop [last (figures), same 0, left 150]
    (Thread/sleep 100)
    (let [now (figures)]
      (if (or (= same 5) (zero? left))
        now
        (recur now (if (= now last) (inc same) 0) (dec left))))))

(defn socks-round-trip
  "A round trip to the echo server through the SOCKS proxy on port."
  [port n seed]
  (let [sock (Socket. (Proxy. Proxy$Type/SOCKS (InetSocketAddress. "127.0.0.1" (int port))))]
    (.connect sock (InetSocketAddress. "127.0.0.1" (int echo-port)) 10000)
    (n/socket-round-trip sock n seed)))

(defn traffic
  "k round trips of n bytes at once through port; true when all intact."
  [f k]
  (every? true? (mapv deref (mapv #(future (f %)) (range k)))))

(defn cycle!
  "One cycle; i numbers it. Returns nil, or a string saying what failed."
  [i abandon?]
  (let [logged (atom 0)
        s (bbssh/ssh c/host (c/opts {:debug-fn (fn [_ _] (swap! logged inc))}))
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port echo-port})
        dport (session/set-port-forwarding-dynamic s {:local-port 0})
        hport (session/set-port-forwarding-remote s {:remote-port 0 :handler (fn [{:keys [in out]}] (io/copy in out))})
        remote (str "soak-" i)
        data (let [bs (byte-array (* 256 1024))] (.nextBytes (java.util.Random. i) bs) bs)
        back (io/file local-dir (str "back-" i))]
    (try
      (check "local forward" (traffic #(n/round-trip "127.0.0.1" lport 200000 (+ i %)) 8))
      (check "remote forward" (traffic #(n/round-trip "127.0.0.1" rport 200000 (+ i %)) 8))
      (check "dynamic forward" (traffic #(socks-round-trip dport 50000 (+ i %)) 4))
      (check "handled remote forward" (traffic #(n/round-trip "127.0.0.1" hport 50000 (+ i %)) 4))
      (check "exec" (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))
      (check "exec stdin" (= (count data) (count (-> (bbssh/exec s "cat" {:in data :out :bytes}) deref :out))))
      (check "exec stream" (= "3\n" (slurp (:out (bbssh/exec s "printf 'a\\nb\\nc\\n' | wc -l")))))
      (scp/scp-to [[data {:filename remote}]] "." {:session s})
      (scp/scp-from remote (str back) {:session s})
      (check "scp" (java.util.Arrays/equals ^bytes data (java.nio.file.Files/readAllBytes (.toPath back))))
      (with-open [out (sftp/output-stream s (str remote ".sftp"))] (.write out ^bytes data))
      (check "sftp stream" (java.util.Arrays/equals ^bytes data (with-open [in (sftp/input-stream s (str remote ".sftp"))] (.readAllBytes in))))
      (sftp/get s (str remote ".sftp") (str back))
      (check "sftp get" (java.util.Arrays/equals ^bytes data (java.nio.file.Files/readAllBytes (.toPath back))))
      (sftp/rm s remote)
      (sftp/rm s (str remote ".sftp"))
      (when abandon?
        ;; leave things running: a command reading stdin, a connection
        ;; open on each forward, an sftp upload half done
        (let [cat (bbssh/exec s "cat" {:in :stream :out :stream})
              held (mapv #(Socket. "127.0.0.1" (int %)) [lport rport hport])
              out (sftp/output-stream s (str remote ".open"))]
          (.write ^java.io.OutputStream (:in cat) (.getBytes "x"))
          (.write ^java.io.OutputStream out ^bytes data)
          (.flush ^java.io.OutputStream out)
          (session/disconnect s)
          (run! #(.close ^Socket %) held)
          (try (.close ^java.io.OutputStream (:in cat)) (catch Exception _ nil))
          (try (.close ^java.io.OutputStream out) (catch Exception _ nil))))
      (check "debug-fn" (pos? @logged))
      (finally
        (.delete back)
        (session/disconnect s)
        (registry/release s)))))

(defn mib [bytes] (/ bytes 1048576.0))

(defn -main []
  (let [_ (cycle! -1 false) ; warm-up: what the runtime starts once
        baseline (stable)
        started (System/nanoTime)
        elapsed #(/ (- (System/nanoTime) started) 1e9)
        samples (atom [])
        sample! (fn [cycles]
                  (let [fig (settle baseline)
                        full (debug/stats {:gc true})]
                    (swap! samples conj (assoc full :t (elapsed) :cycles cycles :settled (= baseline fig)))
                    (println (format "  %6.0f s  %4d cycles  goroutines %3d  fds %3d  handles %2d  heap %6.2f MiB  rss %6.1f MiB%s"
                                     (elapsed) cycles (:goroutines full) (:fds full) (:handles full)
                                     (mib (:heap full)) (mib (:rss full)) (if (= baseline fig) "" "  NOT AT BASELINE")))
                    (flush)))]
    (println (format "soak: %d s of cycles; baseline %s" seconds baseline))
    (sample! 0)
    (loop [i 0]
      (if (< (elapsed) seconds)
        (do (try (cycle! i (zero? (mod (inc i) 5)))
                 (catch Exception e (swap! failures conj (str "cycle " i ": " (ex-message e)))))
            (when (zero? (mod (inc i) sample-every)) (sample! (inc i)))
            (recur (inc i)))
        (sample! i)))
    (let [ss @samples
          q (max 1 (quot (count ss) 4))
          early (apply max (map :heap (take q (rest ss))))
          late (apply min (map :heap (take-last q ss)))
          unsettled (remove :settled ss)
          heap-growth (- late early)
          leak? (or (seq unsettled) (> heap-growth (* 256 1024)))
          rss (map :rss ss)]
      (println (format "soak: %d cycles in %.0f s; %d samples; %d failures"
                       (:cycles (last ss)) (:t (last ss)) (count ss) (count @failures)))
      (println (format "  goroutines/fds/handles back at the baseline %s in %d of %d samples"
                       baseline (- (count ss) (count unsettled)) (count ss)))
      (println (format "  live heap after GC: first quarter max %.2f MiB, last quarter min %.2f MiB (growth %.2f MiB, limit 0.25)"
                       (mib early) (mib late) (mib heap-growth)))
      (println (format "  rss: first %.1f MiB, max %.1f MiB, last %.1f MiB" (mib (first rss)) (mib (apply max rss)) (mib (last rss))))
      (doseq [f (take 10 @failures)] (println "  failed:" f))
      (when leak? (println "LEAK") (println (debug/goroutines)))
      (let [s (bbssh/ssh c/host (c/opts))]
        @(bbssh/exec s "rm -f soak-*" {:out :discard}))
      (System/exit (if (or leak? (seq @failures)) 1 0)))))

(-main)
