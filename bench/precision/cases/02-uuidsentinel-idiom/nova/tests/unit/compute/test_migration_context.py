# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from unittest import mock

from oslo_utils.fixture import uuidsentinel as uuids

from nova import context
from nova import objects
from nova import test


class MigrationContextLookupTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.ctxt = context.get_admin_context()
        self.mock_get = mock.patch(
            'nova.objects.MigrationContext.get_by_instance_uuid').start()

    def test_lookup_uses_instance_uuid(self):
        instance = objects.Instance(uuid=uuids.instance,
                                    migration_context=None)
        self.mock_get.return_value = objects.MigrationContext(
            instance_uuid=uuids.instance, migration_id=42)

        mig_ctxt = objects.MigrationContext.get_by_instance_uuid(
            self.ctxt, instance.uuid)

        self.mock_get.assert_called_once_with(self.ctxt, uuids.instance)
        self.assertEqual(uuids.instance, mig_ctxt.instance_uuid)

    def test_cell0_is_the_nil_uuid(self):
        self.assertEqual('00000000-0000-0000-0000-000000000000',
                         objects.CellMapping.CELL0_UUID)
