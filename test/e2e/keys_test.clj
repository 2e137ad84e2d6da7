;; Key pairs and host keys (pod.epiccastle.bbssh.key-pair, host-key):
;; every public function, checked against OpenSSH's own tools (ssh-keygen
;; reads what we write, verifies what we sign, agrees on fingerprints) and
;; against the real sshd (a generated key logs in).
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.keys-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.key-pair :as key-pair]
         '[pod.epiccastle.bbssh.host-key :as host-key])

(def identity-file (c/env "BBSSH_TEST_IDENTITY"))
(def encrypted-file (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED"))
(def passphrase (c/env "BBSSH_TEST_PASSPHRASE"))
(def rsa-file (c/env "BBSSH_TEST_RSA_IDENTITY"))

(defn sh
  "Runs a command, feeding it `in` (a string) when given."
  [args & [in]]
  (let [p (.start (doto (ProcessBuilder. ^java.util.List (vec args)) (.redirectErrorStream true)))]
    (with-open [w (.getOutputStream p)]
      (when in (.write w (.getBytes ^String in "UTF-8"))))
    (let [out (slurp (.getInputStream p))]
      {:exit (.waitFor p) :out out})))

(defn authorize-key!
  "Lets the test user log in with the key of an authorized_keys line."
  [line]
  (spit (str (c/env "BBSSH_TEST_SSHD_DIR") "/authorized_keys/" c/user) (str (str/trim line) "\n") :append true))

(defn b64 [^bytes bs] (.encodeToString (java.util.Base64/getEncoder) bs))
(defn unb64 [^String s] (.decode (java.util.Base64/getDecoder) s))

(defn pub-blob
  "The key blob of an authorized_keys line."
  [line]
  (unb64 (second (str/split (str/trim line) #"\s+"))))

(defn md5-of
  "ssh-keygen's MD5 fingerprint of a public key file, without \"MD5:\"."
  [pub-file]
  (second (re-find #"MD5:(\S+)" (:out (sh ["ssh-keygen" "-l" "-E" "md5" "-f" pub-file])))))

(defn ssh-string ^bytes [^bytes bs]
  (let [out (java.io.ByteArrayOutputStream.)]
    (doto (java.io.DataOutputStream. out) (.writeInt (alength bs)) (.write bs))
    (.toByteArray out)))

(defn cat-bytes ^bytes [& parts]
  (let [out (java.io.ByteArrayOutputStream.)]
    (doseq [^bytes p parts] (.write out p))
    (.toByteArray out)))

(defn utf8 ^bytes [s] (.getBytes ^String s "UTF-8"))

(defn sshsig-verifies?
  "Signs `message` with key-pair/get-signature inside an SSHSIG envelope
  (PROTOCOL.sshsig) and asks `ssh-keygen -Y check-novalidate` whether the
  signature is good."
  [kp message algorithm]
  (let [ns-name "file"
        digest (.digest (java.security.MessageDigest/getInstance "SHA-512") (utf8 message))
        signed (cat-bytes (utf8 "SSHSIG") (ssh-string (utf8 ns-name)) (ssh-string (byte-array 0))
                          (ssh-string (utf8 "sha512")) (ssh-string digest))
        sig (key-pair/get-signature kp signed algorithm)
        envelope (cat-bytes (utf8 "SSHSIG") (byte-array [0 0 0 1])
                            (ssh-string (key-pair/get-public-key-blob kp)) (ssh-string (utf8 ns-name))
                            (ssh-string (byte-array 0)) (ssh-string (utf8 "sha512")) (ssh-string sig))
        armored (str "-----BEGIN SSH SIGNATURE-----\n"
                     (str/join "\n" (map #(apply str %) (partition-all 70 (b64 envelope))))
                     "\n-----END SSH SIGNATURE-----\n")
        f (str (n/temp-dir) "/msg.sig")]
    (spit f armored)
    (let [{:keys [exit out]} (sh ["ssh-keygen" "-Y" "check-novalidate" "-n" ns-name "-s" f] message)]
      (when-not (zero? exit) (println "ssh-keygen -Y:" out))
      (zero? exit))))

(deftest generate-every-type
  (doseq [[args size type] [[[:rsa 1024] 1024 "ssh-rsa"]
                            [[:rsa] 2048 "ssh-rsa"]
                            [[:ecdsa 256] 256 "ecdsa-sha2-nistp256"]
                            [[:ecdsa] 256 "ecdsa-sha2-nistp256"]
                            [[:ecdsa 384] 384 "ecdsa-sha2-nistp384"]
                            [[:ecdsa 521] 521 "ecdsa-sha2-nistp521"]
                            [[:ed25519] 32 "ssh-ed25519"]]]
    (testing (pr-str args)
      (let [kp (apply key-pair/generate nil args)]
        (is (keyword? kp))
        (is (= size (key-pair/get-key-size kp)))
        (is (not (key-pair/is-encrypted kp)))
        (is (= type (String. ^bytes (java.util.Arrays/copyOfRange ^bytes (key-pair/get-public-key-blob kp) 4 (+ 4 (count type))) "UTF-8")))
        (is (re-matches #"([0-9a-f]{2}:){15}[0-9a-f]{2}" (key-pair/get-finger-print kp))))))
  (testing "dsa and ed448 are refused with :bbssh/unsupported"
    (doseq [t [:dsa :ed448]]
      (let [e (ex #(key-pair/generate nil t 1024))]
        (is (= :bbssh/unsupported (-> e :data :type)))
        (is (str/includes? (:message e) (name t))))))
  (testing "bad types and sizes are :bbssh/bad-option"
    (is (= :bbssh/bad-option (-> (ex #(key-pair/generate nil :rsa 512)) :data :type)))
    (is (= :bbssh/bad-option (-> (ex #(key-pair/generate nil :ecdsa 100)) :data :type)))
    (is (= :bbssh/bad-option (-> (ex #(key-pair/generate nil :x448)) :data :type)))))

(deftest write-read-by-ssh-keygen-and-log-in
  (let [dir (n/temp-dir)]
    (doseq [t [:ed25519 :ecdsa :rsa]]
      (testing (name t)
        (let [kp (key-pair/generate nil t)
              prv (str dir "/id_" (name t))
              enc (str prv "_enc")
              enc2 (str prv "_enc2")]
          (key-pair/write-private-key kp prv)
          (key-pair/write-public-key kp (str prv ".pub") "bbssh test key")
          (key-pair/write-private-key kp enc (.getBytes "arg pass"))
          (key-pair/set-passphrase kp "set pass")
          (key-pair/write-private-key kp enc2)
          (is (= "rw-------" (java.nio.file.attribute.PosixFilePermissions/toString
                                (java.nio.file.Files/getPosixFilePermissions (.toPath (io/file prv)) (make-array java.nio.file.LinkOption 0))))
              "private key file mode 0600")
          (is (str/ends-with? (str/trim (slurp (str prv ".pub"))) " bbssh test key"))
          (let [pub (str/trim (slurp (str prv ".pub")))
                same? (fn [out] (= (seq (pub-blob out)) (seq (pub-blob pub))))]
            (is (same? (:out (sh ["ssh-keygen" "-y" "-f" prv]))) "ssh-keygen -y reads the plain key")
            (is (same? (:out (sh ["ssh-keygen" "-y" "-P" "arg pass" "-f" enc]))) "encrypted with the passphrase argument")
            (is (same? (:out (sh ["ssh-keygen" "-y" "-P" "set pass" "-f" enc2]))) "encrypted with set-passphrase's")
            (is (not (zero? (:exit (sh ["ssh-keygen" "-y" "-P" "wrong" "-f" enc2])))) "a wrong passphrase is refused")
            (is (= (md5-of (str prv ".pub")) (key-pair/get-finger-print kp)) "MD5 fingerprint as ssh-keygen -E md5")
            (is (= (seq (pub-blob pub)) (seq (key-pair/get-public-key-blob kp))))
            ;; The generated key logs in to the real sshd.
            (authorize-key! pub)
            (let [s (bbssh/ssh c/host (c/opts {:identity enc2 :passphrase "set pass"}))]
              (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))
              (pod.epiccastle.bbssh.pod.registry/release s))))))))

(deftest load-and-load-bytes
  (let [pub-line (slurp (str identity-file ".pub"))
        prv-text (slurp identity-file)
        expected-fp (md5-of (str identity-file ".pub"))]
    (testing "load: the .pub beside the key, or given"
      (doseq [kp [(key-pair/load nil identity-file) (key-pair/load nil identity-file (str identity-file ".pub"))]]
        (is (= 32 (key-pair/get-key-size kp)))
        (is (= expected-fp (key-pair/get-finger-print kp)))
        (is (= (seq (pub-blob pub-line)) (seq (key-pair/get-public-key-blob kp))))
        (is (false? (key-pair/is-encrypted kp)))))
    (testing "load-bytes from strings and from bytes"
      (doseq [kp [(key-pair/load-bytes nil prv-text pub-line)
                  (key-pair/load-bytes nil (.getBytes prv-text "UTF-8") (.getBytes pub-line "UTF-8"))]]
        (is (= expected-fp (key-pair/get-finger-print kp)))
        (is (sshsig-verifies? kp "hello" nil))))
    (testing "half keys: public only, private only"
      (let [pub-only (key-pair/load-bytes nil nil pub-line)
            blob-only (key-pair/load-bytes nil nil (pub-blob pub-line))
            prv-only (key-pair/load-bytes nil prv-text nil)]
        (doseq [kp [pub-only blob-only prv-only]]
          (is (= 32 (key-pair/get-key-size kp)))
          (is (= expected-fp (key-pair/get-finger-print kp))))
        (let [e (ex #(key-pair/get-signature pub-only (.getBytes "x")))]
          (is (= :bbssh/bad-key (-> e :data :type)))
          (is (str/includes? (:message e) "public half")))
        (is (sshsig-verifies? prv-only "signed by a private-only key" nil))))
    (testing "an RSA PEM key: size, and a mismatched public half is refused"
      (let [kp (key-pair/load nil rsa-file)]
        (is (= 3072 (key-pair/get-key-size kp)))
        (is (= :bbssh/bad-key (-> (ex #(key-pair/load-bytes nil (slurp rsa-file) pub-line)) :data :type)))))
    (testing "bad input"
      (is (= :bbssh/bad-key (-> (ex #(key-pair/load nil "/nonexistent/key")) :data :type)))
      (is (= :bbssh/bad-key (-> (ex #(key-pair/load-bytes nil "not a key" nil)) :data :type)))
      (is (= :bbssh/bad-key (-> (ex #(key-pair/load-bytes nil nil nil)) :data :type))))))

(deftest encrypted-keys
  (let [kp (key-pair/load nil encrypted-file)]
    (is (true? (key-pair/is-encrypted kp)))
    (is (= (md5-of (str encrypted-file ".pub")) (key-pair/get-finger-print kp)) "fingerprint while still encrypted")
    (is (= :bbssh/bad-key (-> (ex #(key-pair/get-signature kp (.getBytes "x"))) :data :type)))
    (is (false? (key-pair/decrypt kp (.getBytes "wrong"))))
    (is (true? (key-pair/is-encrypted kp)))
    (is (true? (key-pair/decrypt kp (.getBytes ^String passphrase))))
    (is (false? (key-pair/is-encrypted kp)))
    (is (sshsig-verifies? kp "after decrypt" nil)))
  (testing "without the .pub file the OpenSSH format still tells the public half"
    (let [kp (key-pair/load-bytes nil (slurp encrypted-file) nil)]
      (is (= 32 (key-pair/get-key-size kp)))
      (is (true? (key-pair/decrypt kp passphrase))))))

(deftest signatures
  (testing "each key type and algorithm verifies with ssh-keygen -Y"
    (doseq [[t algs] [[:ed25519 [nil "ssh-ed25519"]]
                      [:ecdsa [nil "ecdsa-sha2-nistp256"]]
                      [:rsa ["rsa-sha2-256" "rsa-sha2-512"]]]]
      (let [kp (key-pair/generate nil t)]
        (doseq [alg algs]
          (is (sshsig-verifies? kp (str "message for " alg) alg) (str t " " alg))))))
  (testing "RSA defaults to ssh-rsa (SHA-1), deterministic as in 0.6"
    (let [kp (key-pair/load nil rsa-file)
          data (byte-array (range 256))
          sig (key-pair/get-signature kp data)]
      (is (= "ssh-rsa" (String. ^bytes (java.util.Arrays/copyOfRange ^bytes sig 4 11) "UTF-8")))
      (is (= (seq sig) (seq (key-pair/get-signature kp data))))
      (is (= (+ 4 7 4 384) (count sig)) "string alg + string 3072-bit signature")))
  (testing "an algorithm the key cannot use is an error"
    (is (= :bbssh/bad-key (-> (ex #(key-pair/get-signature (key-pair/generate nil :ed25519) (.getBytes "x") "rsa-sha2-256")) :data :type)))))

(deftest dispose-forgets-the-private-half
  (let [kp (key-pair/generate nil :ed25519)
        fp (key-pair/get-finger-print kp)]
    (is (nil? (key-pair/dispose kp)))
    (is (= fp (key-pair/get-finger-print kp)))
    (let [e (ex #(key-pair/get-signature kp (.getBytes "x")))]
      (is (= :bbssh/bad-key (-> e :data :type)))
      (is (str/includes? (:message e) "disposed")))
    (is (= :bbssh/bad-key (-> (ex #(key-pair/write-private-key kp (str (n/temp-dir) "/k"))) :data :type)))))

(deftest host-keys
  (let [ed (key-pair/generate nil :ed25519)
        blob (key-pair/get-public-key-blob ed)
        rsa-blob (key-pair/get-public-key-blob (key-pair/load nil rsa-file))
        fp-hex (fn [^bytes bs] (str/join ":" (map #(format "%02x" %) (.digest (java.security.MessageDigest/getInstance "SHA-256") bs))))]
    (testing "every arity of new, and each accessor"
      (let [a (host-key/new "example.com" blob)
            b (host-key/new "[10.0.0.1]:2222" :ed25519 blob)
            c (host-key/new "a,b" :guess blob "a comment 🚀")
            d (host-key/new "@revoked" "*" :ed25519 blob "gone")]
        (doseq [h [a b c d]] (is (keyword? h)))
        (is (= "example.com" (host-key/get-host a)))
        (is (= "[10.0.0.1]:2222" (host-key/get-host b)))
        (is (= "ssh-ed25519" (host-key/get-type a)))
        (is (= (b64 blob) (host-key/get-key a)))
        (is (= (fp-hex blob) (host-key/get-finger-print a) (host-key/get-finger-print a nil)))
        (is (= "" (host-key/get-comment a)))
        (is (= "a comment 🚀" (host-key/get-comment c)) "comments keep their UTF-8")
        (is (= "" (host-key/get-marker a)))
        (is (= "@revoked" (host-key/get-marker d)))
        (is (= {:host "a,b" :type "ssh-ed25519" :key (b64 blob) :finger-print (fp-hex blob)
                :comment "a comment 🚀" :marker ""}
               (host-key/get-info c nil)
               (host-key/get-info c)))
        (is (= {a (host-key/get-info a) d (host-key/get-info d)} (host-key/get-infos [a d] nil) (host-key/get-infos [a d])))
        (is (= "ssh-rsa" (host-key/get-type (host-key/new "h" :sshrsa rsa-blob))))
        (is (contains? host-key/types :ecdsa256))))
    (testing "bad input"
      (is (= :bbssh/bad-key (-> (ex #(host-key/new "h" :sshrsa blob)) :data :type)) "type contradicts the key")
      (is (= :bbssh/bad-option (-> (ex #(host-key/new "h" :nonsense blob)) :data :type)))
      (is (= :bbssh/bad-key (-> (ex #(host-key/new "h" (.getBytes "junk"))) :data :type)))
      (is (= :bbssh/bad-option (-> (ex #(host-key/new "@bogus" "h" :guess blob "")) :data :type)))
      (is (= :bbssh/bad-option (-> (ex #(host-key/new "two hosts" blob)) :data :type))))))

(c/run-tests-and-exit 'e2e.keys-test)
