"""Catalog administration: products (plan, price, dunning policy)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth import AdminDep
from api.deps import SessionsDep
from api.problems import COMMON_RESPONSES
from api.schemas.products import ProductCreate, ProductOut, ProductUpdate
from api.services import catalog
from models.enums import ProductStatus

router = APIRouter(prefix="/v1/products", tags=["products"], responses=COMMON_RESPONSES)


@router.post("", status_code=201, response_model=ProductOut)
async def create_product(body: ProductCreate, _admin: AdminDep, sessions: SessionsDep) -> ProductOut:
    """Add a product to the catalog. The billing cycle is an ISO-8601 duration (`P1M`, `P30D`, `PT1M`);
    the unit price is per device per period, in integer minor units."""
    product = await run_in_threadpool(lambda: catalog.create_product(sessions=sessions, request=body))
    return ProductOut.of(product)


@router.patch("/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, _admin: AdminDep, sessions: SessionsDep
) -> ProductOut:
    """Change a product. A new unit price bumps `price_version` and applies to running subscriptions from
    their next period; the currency cannot change."""
    product = await run_in_threadpool(
        lambda: catalog.update_product(sessions=sessions, product_id=product_id, request=body)
    )
    return ProductOut.of(product)


@router.get("", response_model=list[ProductOut])
async def list_products(
    _admin: AdminDep, sessions: SessionsDep, status: ProductStatus | None = None
) -> list[ProductOut]:
    """The catalog, oldest first, optionally only the products in one status."""
    products = await run_in_threadpool(lambda: catalog.list_products(sessions=sessions, status=status))
    return [ProductOut.of(p) for p in products]
