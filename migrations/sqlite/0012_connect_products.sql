-- Products (ZOOM_PRODUCTS names) a CRM preselects for a connect session,
-- space-joined; the connect page offers them checked.
ALTER TABLE connect_sessions ADD COLUMN products TEXT;
