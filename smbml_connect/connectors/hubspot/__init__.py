"""HubSpot CRM v3: contacts, deals, orders, line items and products in; properties out."""
