-- One paid order as plain SQL: the statements the platform issues for browse -> checkout -> pay ->
-- wallet notification, in the same transactions (7 commits), with no Python in between. One run of
-- this script is one paid order, so pgbench's "tps" is paid orders per second for the database alone.
--
--   pgbench -n -M prepared -f benchmarks/orders_pgbench.sql -D nbuyers=N -D nstock=M ...
--
-- -M prepared (variables travel as parameters, as psycopg sends them, and statements are prepared
-- as psycopg does after 5 uses). benchmarks/orders_load.py first creates bench_buyers(n, user_id,
-- token_hash) and bench_stock(n, pharmacy_id, product_id, sku, name, price_fen) in the benchmark
-- database. Left out: the outbox relay's batched publish-and-mark, and the wallet's own work.
\set b random(1, :nbuyers)
\set s random(1, :nstock)
SELECT user_id, token_hash FROM bench_buyers WHERE n = :b \gset
SELECT pharmacy_id, product_id, sku, name, price_fen FROM bench_stock WHERE n = :s \gset
SELECT gen_random_uuid()::text AS order_id, gen_random_uuid()::text AS payment_id, gen_random_uuid()::text AS capture_id, gen_random_uuid()::text AS accrual_id, md5(random()::text) AS key1, md5(random()::text) AS key2, md5(random()::text) AS trade_no \gset
\set total :price_fen + 500
\set to_pharmacy (:price_fen * 95) / 100
\set to_platform :total - :to_pharmacy - 400
\set accrual 1 + :total / 100

-- browse: the search statement for one drug name (BM25 over tsvector, as search_postgres issues it)
WITH stats AS (SELECT 333.0::float8 AS n, 57.17::float8 AS avg_len),
parts (part, weight, query) AS (VALUES (0, 1.0::float8, phraseto_tsquery('simple', '布洛芬')), (1, 1.0::float8, phraseto_tsquery('simple', 'ibuprofen')), (2, 0.5::float8, to_tsquery('simple', 'ibuprofen:*'))),
matches AS (SELECT parts.weight, p.product_id, p.token_count, ts_rank_cd('{1,1,1,1}'::float4[], p.tsv, parts.query, 0)::float8 AS tf, count(*) OVER (PARTITION BY parts.part)::float8 AS df FROM parts JOIN product_search AS p ON p.tsv @@ parts.query),
hits (product_id, score) AS (SELECT m.product_id, m.weight * greatest(ln((stats.n - m.df + 0.5) / (m.df + 0.5)), 1e-6) * (m.tf * 2.2) / (m.tf + 1.2 * (0.25 + 0.75 * m.token_count / stats.avg_len)) FROM matches AS m CROSS JOIN stats)
SELECT product_id, sum(score) AS score FROM hits GROUP BY product_id ORDER BY score DESC, product_id LIMIT 60;

-- checkout: who is asking, claim the key, the order, the key's answer
SELECT * FROM auth_tokens WHERE token_hash = :token_hash AND revoked_at IS NULL AND expires_at > now();
SELECT * FROM users WHERE id = :user_id;
BEGIN;
INSERT INTO idempotency_keys (principal_id, route, key, request_sha256, state, created_at) VALUES (:user_id, 'POST /api/orders', :key1, md5(CAST(:key1 AS text)) || md5(CAST(:key1 AS text)), 'started', now()) ON CONFLICT DO NOTHING RETURNING principal_id;
COMMIT;
BEGIN;
SELECT * FROM products WHERE id = :product_id;
SELECT * FROM users WHERE id = :user_id;
SELECT counter, window_start, packs, mg FROM restricted_usage WHERE identity_key = :user_id AND counter IN ('ephedrine-type/1d/pickup_only');
SELECT * FROM pharmacies WHERE id = :pharmacy_id;
UPDATE stock_levels SET reserved = reserved + 1, version = version + 1, updated_at = now() WHERE pharmacy_id = :pharmacy_id AND product_id = :product_id AND quantity - reserved >= 1 RETURNING quantity - reserved;
INSERT INTO orders (id, city_id, user_id, patient_id, pharmacy_id, status, fulfilment, address_lat, address_lng, address_text, promise_minutes, quoted_eta_minutes, expires_at, rules_version, items_subtotal_fen, discount_fen, delivery_fee_fen, night_surcharge_fen, packaging_fee_fen, total_fen, insured_fen, self_paid_fen, non_reimbursable_fen, has_rx, holds, review, paid_fen, refunded_fen, stock_state, entered_at, gate, created_at, updated_at, version) VALUES (:order_id, 'hangzhou', :user_id, :user_id, :pharmacy_id, 'awaiting_payment', 'delivery', 30.2716, 120.1636, 'benchmark address', 30, 20, now() + interval '15 minutes', 'pricing-default-1', :price_fen, 0, 500, 0, 0, :total, 0, :price_fen, 500, false, '[]', 'null', 0, 0, 'reserved', json_build_object('created', now(), 'awaiting_payment', now()), json_build_object('rules_version', 'china-2026-1', 'source', 'fixtures 1', 'checked_at', now(), 'prescription_ids', '[]'::json, 'identity_key', CAST(:user_id AS text), 'timezone', 'Asia/Shanghai', 'usage', '[]'::json), now(), now(), 2);
INSERT INTO order_lines (order_id, line_no, product_id, sku, name, drug_class, quantity, unit_price_fen, line_total_fen, prescription_id) VALUES (:order_id, 0, :product_id, :sku, :name, 'otc_a', 1, :price_fen, :price_fen, NULL);
INSERT INTO audit_events (at, actor_id, actor_roles, action, resource_type, resource_id, patient_id, outcome, request_id, ip, detail) VALUES (now(), :user_id, 'patient', 'create', 'order', :order_id, :user_id, 'ok', md5(CAST(:order_id AS text)), '127.0.0.1', '{}') RETURNING id;
INSERT INTO outbox (event_id, topic, city_id, payload, created_at, attempts) VALUES (gen_random_uuid()::text, 'catalog.stock_changed', 'hangzhou', json_build_object('pharmacy_id', CAST(:pharmacy_id AS text), 'product_id', CAST(:product_id AS text), 'available', 1000), now(), 0), (gen_random_uuid()::text, 'ordering.order_created', 'hangzhou', json_build_object('order_id', CAST(:order_id AS text), 'user_id', CAST(:user_id AS text), 'pad', repeat('x', 200)), now(), 0), (gen_random_uuid()::text, 'ordering.order_awaiting_payment', 'hangzhou', json_build_object('order_id', CAST(:order_id AS text), 'expires_at', now()), now(), 0);
COMMIT;
BEGIN;
UPDATE idempotency_keys SET state = 'finished', response_status = 201, response_body = json_build_object('id', CAST(:order_id AS text), 'pad', repeat('x', 900)), finished_at = now() WHERE principal_id = :user_id AND route = 'POST /api/orders' AND key = :key1 AND state = 'started';
COMMIT;

-- pay: who is asking, claim the key, the payment intent, the key's answer
SELECT * FROM auth_tokens WHERE token_hash = :token_hash AND revoked_at IS NULL AND expires_at > now();
SELECT * FROM users WHERE id = :user_id;
BEGIN;
INSERT INTO idempotency_keys (principal_id, route, key, request_sha256, state, created_at) VALUES (:user_id, 'POST /api/orders/' || CAST(:order_id AS text) || '/pay', :key2, md5(CAST(:key2 AS text)) || md5(CAST(:key2 AS text)), 'started', now()) ON CONFLICT DO NOTHING RETURNING principal_id;
COMMIT;
BEGIN;
SELECT * FROM orders WHERE id = :order_id;
SELECT * FROM order_lines WHERE order_id IN (:order_id) ORDER BY order_id, line_no;
SELECT * FROM payments WHERE order_id = :order_id;
INSERT INTO payments (id, order_id, user_id, city_id, amount_fen, state, refunded_fen, created_at, updated_at, version) VALUES (:payment_id, :order_id, :user_id, 'hangzhou', :total, 'pending', 0, now(), now(), 1) ON CONFLICT DO NOTHING RETURNING id;
COMMIT;
BEGIN;
UPDATE idempotency_keys SET state = 'finished', response_status = 200, response_body = json_build_object('payment_id', CAST(:payment_id AS text), 'pad', repeat('x', 1050)), finished_at = now() WHERE principal_id = :user_id AND route = 'POST /api/orders/' || CAST(:order_id AS text) || '/pay' AND key = :key2 AND state = 'started';
COMMIT;

-- the wallet's notification: mark paid, capture to the ledger, the order paid, the pot accrual, the log
BEGIN;
SELECT * FROM payments WHERE id = :payment_id;
UPDATE payments SET state = 'paid', trade_no = :trade_no, buyer_id = '2088102100000001', paid_at = now(), updated_at = now(), version = version + 1 WHERE id = :payment_id AND state = 'pending';
SELECT * FROM orders WHERE id = :order_id;
SELECT * FROM order_lines WHERE order_id IN (:order_id) ORDER BY order_id, line_no;
SELECT * FROM ledger_transactions WHERE kind = 'capture' AND reference = :payment_id;
SAVEPOINT capture;
INSERT INTO ledger_postings (txn_id, seq, account, amount_fen) VALUES (:capture_id, 0, 'wallet_clearing', :total), (:capture_id, 1, 'customer:' || CAST(:user_id AS text), 0 - CAST(:total AS bigint)), (:capture_id, 2, 'customer:' || CAST(:user_id AS text), :total), (:capture_id, 3, 'pharmacy_payable:' || CAST(:pharmacy_id AS text), 0 - CAST(:to_pharmacy AS bigint)), (:capture_id, 4, 'courier_payable', -400), (:capture_id, 5, 'platform_revenue', 0 - CAST(:to_platform AS bigint));
INSERT INTO ledger_transactions (id, kind, reference, parent_id, user_id, occurred_at, memo) VALUES (:capture_id, 'capture', :payment_id, NULL, :user_id, now(), 'split rule default');
RELEASE SAVEPOINT capture;
UPDATE orders SET status = 'paid', payment_ref = :payment_id, paid_fen = :total, entered_at = json_build_object('created', now(), 'awaiting_payment', now(), 'paid', now()), updated_at = now(), version = 3 WHERE id = :order_id AND version = 2;
SELECT * FROM users WHERE id = :user_id;
SELECT * FROM ledger_transactions WHERE parent_id = :capture_id ORDER BY occurred_at, id;
SELECT * FROM ledger_transactions WHERE user_id = :user_id ORDER BY occurred_at, id;
SELECT * FROM ledger_postings WHERE txn_id IN (SELECT id FROM ledger_transactions WHERE user_id = :user_id AND kind = 'accrual') ORDER BY txn_id, seq;
SELECT * FROM ledger_transactions WHERE kind = 'accrual' AND reference = :payment_id;
SAVEPOINT accrual;
INSERT INTO ledger_postings (txn_id, seq, account, amount_fen) VALUES (:accrual_id, 0, 'pot:' || CAST(:user_id AS text), :accrual), (:accrual_id, 1, 'insurance_pool', 0 - CAST(:accrual AS bigint));
INSERT INTO ledger_transactions (id, kind, reference, parent_id, user_id, occurred_at, memo) VALUES (:accrual_id, 'accrual', :payment_id, :capture_id, :user_id, now(), 'accrual rule 2017-alipay-like');
RELEASE SAVEPOINT accrual;
INSERT INTO wallet_notifications (notify_id, out_trade_no, trade_status, outcome, received_at, params) VALUES (md5(CAST(:payment_id AS text)), :payment_id, 'TRADE_SUCCESS', 'paid', now(), json_build_object('out_trade_no', CAST(:payment_id AS text), 'pad', repeat('x', 950))) RETURNING id;
INSERT INTO outbox (event_id, topic, city_id, payload, created_at, attempts) VALUES (gen_random_uuid()::text, 'ordering.order_paid', 'hangzhou', json_build_object('order_id', CAST(:order_id AS text), 'payment_id', CAST(:payment_id AS text), 'paid_fen', CAST(:total AS bigint)), now(), 0) RETURNING id;
COMMIT;
